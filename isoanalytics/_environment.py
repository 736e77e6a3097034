"""The names of the ``ISOMETRIC_*`` variables the package reads, in one light module.

The command line names them in its help and messages before it has imported anything heavy
(httpx, pandas), so they live here rather than beside the HTTP code that reads them.
"""

from __future__ import annotations

SECRET_VARIABLE = "ISOMETRIC_CLIENT_SECRET"
TOKEN_VARIABLE = "ISOMETRIC_ACCESS_TOKEN"
# A portfolio's tokens, one per organisation: "org_A=token_A,org_B=token_B" (commas or spaces).
TOKENS_VARIABLE = "ISOMETRIC_ACCESS_TOKENS"
ENVIRONMENT_VARIABLE = "ISOMETRIC_ENVIRONMENT"
# A mirror, proxy or test server instead of the environment's URL
BASE_URL_VARIABLE = "ISOMETRIC_BASE_URL"

"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

Every operation that declares the `bearer` security scheme gets
`Authorization: Bearer <token>`, a JWT access token of the fuzz account from
`POST /auth/jwt/create/`. The fuzzer also calls the routes that end sessions
(a 401 then makes schemathesis log in again and replay the request) and
`DELETE /auth/delete/{username}`, which lets an account delete itself: when
the login is refused, a new admin account is made with `sesame user create`.
"""

import json
import os
import subprocess
import urllib.error
import urllib.request

import schemathesis


def _protected(ctx):
    security = ctx.operation.definition.raw.get("security") or []
    return any("bearer" in requirement for requirement in security)


# The account in use; a new one replaces it when it is gone.
_account = {"username": os.environ["SESAME_FUZZ_USERNAME"], "generation": 0}


def _login():
    body = json.dumps(
        {"username": _account["username"], "password": os.environ["SESAME_FUZZ_PASSWORD"]}
    ).encode()
    request = urllib.request.Request(
        os.environ["SESAME_FUZZ_URL"] + "/auth/jwt/create/",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access"]


def _new_account():
    """An admin under a new name: the fuzzer may have taken the old name or
    address for an account of its own since it deleted ours."""
    _account["generation"] += 1
    username = f"{os.environ['SESAME_FUZZ_USERNAME']}-{_account['generation']}"
    result = subprocess.run(
        [os.environ["SESAME_FUZZ_BIN"], "user", "create", "--username", username,
         "--email", f"{username}@example.com", "--admin", "--password-stdin"],
        input=os.environ["SESAME_FUZZ_PASSWORD"] + "\n",
        text=True,
        capture_output=True,
    )
    with open(os.path.join(os.environ["SESAME__DATA_DIR"], "fuzz-account-recreated"), "a") as log:
        log.write(f"{username}: exit {result.returncode} {result.stderr.strip()}\n")
    if result.returncode == 0:
        _account["username"] = username


@schemathesis.auth().apply_to(_protected)
class SesameBearer:
    def get(self, case, context):
        for _ in range(3):
            try:
                return _login()
            except urllib.error.HTTPError as error:
                if error.code != 401:
                    raise
            _new_account()
        return _login()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"

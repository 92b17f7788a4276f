"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

Every operation that declares the `bearer` security scheme gets
`Authorization: Bearer <token>`, a JWT access token of the fuzz account from
`POST /auth/jwt/create/`. The fuzzer also calls the routes that end sessions
(a 401 then makes schemathesis log in again and replay the request) and
`DELETE /auth/delete/{username}`, which lets an account delete itself: when
the login is refused, the account is made again with `sesame user create`.
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


def _login():
    body = json.dumps(
        {
            "username": os.environ["SESAME_FUZZ_USERNAME"],
            "password": os.environ["SESAME_FUZZ_PASSWORD"],
        }
    ).encode()
    request = urllib.request.Request(
        os.environ["SESAME_FUZZ_URL"] + "/auth/jwt/create/",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access"]


def _create_account():
    username = os.environ["SESAME_FUZZ_USERNAME"]
    subprocess.run(
        [os.environ["SESAME_FUZZ_BIN"], "user", "create", "--username", username,
         "--email", f"{username}@example.com", "--admin", "--password-stdin"],
        input=os.environ["SESAME_FUZZ_PASSWORD"] + "\n",
        text=True,
        capture_output=True,
        check=True,
    )
    with open(os.path.join(os.environ["SESAME__DATA_DIR"], "fuzz-account-recreated"), "a") as log:
        log.write("1\n")


@schemathesis.auth().apply_to(_protected)
class SesameBearer:
    def get(self, case, context):
        try:
            return _login()
        except urllib.error.HTTPError as error:
            if error.code != 401:
                raise
        _create_account()
        return _login()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"

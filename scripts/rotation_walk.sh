#!/bin/bash
# Rotation walk (issue 20) against a release build: ES256, log in, rotate, log in, retire.
# scripts/rotation_walk.sh [DATABASE_URL]   (empty: SQLite in a temporary data dir)
set -u
BIN=${SESAME_BIN:-target/release/sesame}; BIN=$(realpath "$BIN")
D=$(mktemp -d); cd "$D"
export SESAME__DATA_DIR=$D/data SESAME__TOKENS__ALGORITHM=ES256 SESAME__PASSWORDS__BCRYPT_COST=4 SESAME__RATE_LIMIT__ENABLED=false RUST_LOG=warn
[ -n "${1:-}" ] && export DATABASE_URL=$1
PORT=$((20000 + RANDOM % 20000)); B=http://127.0.0.1:$PORT
SESAME__HTTP__BIND=127.0.0.1:$PORT $BIN serve 2>server.log & PID=$!
for i in $(seq 50); do curl -sf $B/healthz >/dev/null && break; sleep 0.1; done
kid() { python3 -c "import sys,json,base64;h=sys.argv[1].split('.')[0];print(json.loads(base64.urlsafe_b64decode(h+'='*(-len(h)%4)))['kid'])" "$1"; }
me() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" $B/auth/users/me/; }
login() { curl -s -H 'Content-Type: application/json' -d '{"username":"walker","password":"Xk92!dumbo-lamp"}' $B/auth/jwt/create/ | python3 -c 'import sys,json;print(json.load(sys.stdin)["access"])'; }
jwks() { curl -s $B/.well-known/jwks.json | python3 -c 'import sys,json;print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))'; }
curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"username":"walker","email":"w@example.com","password":"Xk92!dumbo-lamp","re_password":"Xk92!dumbo-lamp"}' $B/auth/users/
A=$(login); echo "login 1: kid $(kid $A)"
echo "\$ sesame keys rotate"; T0=$(date +%s.%N); NEW=$($BIN keys rotate); echo "$NEW"; NEW=${NEW%% *}
until jwks | grep -q "$NEW"; do sleep 0.02; done; T1=$(date +%s.%N)
echo "new key in this instance's JWKS $(python3 -c "print(round($T1-$T0,2))") s after the rotate command started"
B2=$(login); echo "login 2: kid $(kid $B2)"
echo "GET me old: $(me $A)  new: $(me $B2)"; echo "JWKS kids: $(jwks)"
echo "\$ sesame keys list"; $BIN keys list
echo "\$ sesame keys retire $(kid $B2)  (active)"; $BIN keys retire $(kid $B2); echo "exit $?"
echo "\$ sesame keys retire es256-unknown"; $BIN keys retire es256-unknown; echo "exit $?"
T0=$(date +%s.%N); echo "\$ sesame keys retire $(kid $A)"; $BIN keys retire $(kid $A); echo "exit $?"
until [ "$(me $A)" = 401 ]; do sleep 0.02; done; T1=$(date +%s.%N)
echo "old token refused $(python3 -c "print(round($T1-$T0,2))") s after the retire command started"
echo "GET me old: $(me $A)  new: $(me $B2)"; echo "JWKS kids: $(jwks)"
FORGED=$(python3 -c "
import sys,json,base64
t=sys.argv[1].split('.');h=json.loads(base64.urlsafe_b64decode(t[0]+'='*(-len(t[0])%4)));h['kid']=sys.argv[2]
print(base64.urlsafe_b64encode(json.dumps(h).encode()).decode().rstrip('=')+'.'+t[1]+'.'+t[2])" $B2 $(kid $A))
echo "forged header with the retired kid: $(me $FORGED)"
kill $PID; wait $PID 2>/dev/null; rm -rf "$D"

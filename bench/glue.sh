#!/usr/bin/env bash
# The glue script the action replaces, as a team would write it (bench/end_to_end.py runs it):
# docker build, docker push, a 5 s poll of Harbor's scan, cosign sign, a re-push of the release
# tags. `docker build` is the docker CLI's classic builder (DOCKER_BUILDKIT=0; without the buildx
# plugin the CLI falls back to it anyway). Everything comes from the environment:
#   REGISTRY IMAGE PUSH_TAG RELEASE_TAGS CONTEXT BUILD_ARGS HARBOR_API PROJECT REPOSITORY
#   HARBOR_USERNAME HARBOR_PASSWORD FULCIO_URL TRUSTED_ROOT COSIGN
#   ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN DOCKER_CONFIG (a private dir)
set -euo pipefail

printf '%s' "$HARBOR_PASSWORD" | docker login -u "$HARBOR_USERNAME" --password-stdin "$REGISTRY" >/dev/null
args=()
for arg in $BUILD_ARGS; do args+=(--build-arg "$arg"); done
DOCKER_BUILDKIT=0 docker build -q "${args[@]}" -t "$IMAGE:$PUSH_TAG" "$CONTEXT" >/dev/null
digest=$(docker push "$IMAGE:$PUSH_TAG" | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')

encoded=${REPOSITORY//\//%252F}
url="$HARBOR_API/projects/$PROJECT/repositories/$encoded/artifacts/$digest?with_scan_overview=true"
while :; do
  verdict=$(curl -fsS -u "$HARBOR_USERNAME:$HARBOR_PASSWORD" "$url" | python3 -c '
import json, sys
overview = next(iter((json.load(sys.stdin).get("scan_overview") or {}).values()), {})
status, severity = overview.get("scan_status", ""), overview.get("severity", "")
print("blocked" if status == "Success" and severity in ("Critical", "High") else status)')
  case "$verdict" in
    Success) break ;;
    blocked | Error | Stopped) echo "scan: $verdict" >&2; exit 1 ;;
  esac
  sleep 5
done

token=$(curl -fsS -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
  "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
"$COSIGN" sign --yes --new-bundle-format=false --use-signing-config=false \
  --fulcio-url="$FULCIO_URL" --tlog-upload=false --trusted-root="$TRUSTED_ROOT" \
  --identity-token="$token" --allow-http-registry "$IMAGE@$digest" >/dev/null 2>&1

for tag in $RELEASE_TAGS; do
  docker tag "$IMAGE:$PUSH_TAG" "$IMAGE:$tag"
  docker push -q "$IMAGE:$tag" >/dev/null
done
echo "$IMAGE@$digest"

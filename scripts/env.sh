# Sourced by the project's scripts: where the cache lives and which tools come first on PATH.
K1S0_CACHE="${K1S0_CACHE:-$HOME/.cache/k1s0-image-action}"
K1S0_VENV="$K1S0_CACHE/venv"
export K1S0_CACHE K1S0_VENV
export PATH="$K1S0_VENV/bin:$K1S0_CACHE/bin:$PATH"

export AIRELAYS_TOKEN="$(airelays token show | head -n 1)"

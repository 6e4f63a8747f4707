#!/usr/bin/env bash
# `make run`: the registry sandbox, a local Twilio API stand-in and the gateway, on the embedded default (SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var

export LAPOR_GATEWAY_CONFIG=${LAPOR_GATEWAY_CONFIG:-config/dev.toml}
# Development-only secrets; real deployments set these through the environment or the vault.
export LAPOR_GATEWAY_REGISTRY__TOKEN=${LAPOR_GATEWAY_REGISTRY__TOKEN:-dev-registry-token}
export LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN=${LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN:-dev-twilio-token}

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$BIN/lapor-gateway db upgrade
$BIN/lapor-gateway registry-sim --port 8090 --token "$LAPOR_GATEWAY_REGISTRY__TOKEN" --db var/registry-sim.db \
  >var/registry-sim.log 2>&1 &
pids+=($!)
$BIN/lapor-gateway twilio-sim --port 8091 --account-sid ACdev00000000000000000000000000000 \
  --auth-token "$LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN" >var/twilio-sim.log 2>&1 &
pids+=($!)

cat <<MSG

lapor-gateway: HTTP http://127.0.0.1:8080 (webhooks /c/<channel>/..., /healthz, /metrics)
registry sandbox http://127.0.0.1:8090 (log: var/registry-sim.log), Twilio stand-in http://127.0.0.1:8091

Send a first signed test SMS from another terminal:

  $($BIN/lapor-gateway demo-sms)

Then see the complaint in the registry and the acknowledgement sent back:

  curl -s -H 'Authorization: Bearer $LAPOR_GATEWAY_REGISTRY__TOKEN' http://127.0.0.1:8090/complaints
  curl -s http://127.0.0.1:8091/sandbox/messages
  $BIN/lapor-gateway stats

MSG
$BIN/lapor-gateway serve &
pids+=($!)
wait "${pids[-1]}"

# Shared by the benchmark scripts (sourced, not run).

# Benchmarks never touch this machine's network: ccrun's containers get none
# unless a script asks (bench/network.sh works in a namespace of its own).
export CCRUN_NETWORK="${CCRUN_NETWORK:-none}"

# start_registry: Debian's docker-registry on a free 127.0.0.1 port with its
# storage under $WORK/registry; sets REG (host:port) and REG_PID.
start_registry() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$WORK/registry"
  cat > "$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$port
YML
  docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
  REG_PID=$!
  REG=127.0.0.1:$port
  for _ in $(seq 1 100); do curl -sf "http://$REG/v2/" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "docker-registry did not start: $(cat "$WORK/registry.log")" >&2
  exit 1
}

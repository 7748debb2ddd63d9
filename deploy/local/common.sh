# Shell helpers of the project's scripts (deploy/local/stack.sh, deploy/compose/smoke); sourced,
# with CACHE set to the checkout's .local and SAY_AS to the script's name.

say() { printf '\033[1;34m[%s]\033[0m %s\n' "${SAY_AS:-stack}" "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages ($*); install them (apt-get install $*) or run as root" >&2
    exit 1
  fi
  if [ ! -f "$CACHE/.apt-updated" ]; then
    apt-get update -qq >/dev/null
    mkdir -p "$CACHE" && touch "$CACHE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

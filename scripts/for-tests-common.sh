# Sourced by scripts/*-for-tests.sh: what starting a throw-away server for the tests needs in each of them.

# Prints a free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# apt_install NAME "PACKAGES" ["APT OPTIONS"]: installs the Debian packages with apt-get when we are root; otherwise
# says what to install and exits. NAME prefixes the messages.
apt_install() {
    local name="$1" packages="$2" options="${3:-}"
    if [ "$(id -u)" != 0 ]; then
        echo "$name: ${packages%% *} is not installed and we are not root: apt-get install $packages" >&2
        exit 1
    fi
    echo "$name: installing $packages with apt-get" >&2
    apt-get update -qq >&2
    # shellcheck disable=SC2086 # the package and option lists are meant to split into words
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $options $packages >&2
}

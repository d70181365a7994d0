# shellcheck shell=bash
# Shared by the scripts: where the project's Python 3.14 lives and how to run a command in it.
#
# Home Assistant 2026.x needs Python >= 3.14.2. Where the machine has one (or uv can fetch one)
# the virtual environment is made with it directly. On Debian machines without one, a small
# Debian "forky" root file system provides python3.14 and every project command runs inside it
# through chroot, with the repository bind-mounted at its own path (../shared/recipes/python314.md).
ML_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ML_VENV="$ML_ROOT/.venv"
ML_CHROOT="${METERLINK_CHROOT:-/opt/meterlink-py314}"
ML_MODE_FILE="$ML_VENV/.meterlink-mode"

ml_mode() {
  if [ -f "$ML_MODE_FILE" ]; then cat "$ML_MODE_FILE"; else echo none; fi
}

# Bind-mount $1 at the same path inside the chroot. A mount left by an earlier run may show a
# directory that has since been deleted and re-created (a fresh clone at the same path), so a
# mount counts only when it shows the very same directory (device and inode) as the host.
ml_bind_same_path() {
  local dir="$1" target="$ML_CHROOT$1"
  mkdir -p "$target"
  if mountpoint -q "$target"; then
    [ "$(stat -c %d:%i "$dir")" = "$(stat -c %d:%i "$target" 2>/dev/null)" ] && return 0
    umount -l "$target"
  fi
  mount --bind "$dir" "$target"
}

ml_mount_chroot() {
  local root="$ML_CHROOT" dir
  for dir in proc sys dev dev/pts; do
    mkdir -p "$root/$dir"
    mountpoint -q "$root/$dir" || mount --bind "/$dir" "$root/$dir"
  done
  ml_bind_same_path "$ML_ROOT"
  # ../shared sits beside the repository; tests and docs read it.
  if [ -d "$ML_ROOT/../shared" ]; then
    ml_bind_same_path "$(cd "$ML_ROOT/../shared" && pwd)"
  fi
  cp -f /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}

# Run a command with the project's Python environment first on PATH.
ml_run() {
  case "$(ml_mode)" in
    chroot)
      ml_mount_chroot
      local -a envs=(HOME=/root "PATH=$ML_VENV/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8)
      local var
      for var in CI TERM TZ PYTHONHASHSEED HYPOTHESIS_PROFILE PYTEST_ADDOPTS COVERAGE_FILE \
        $(compgen -e | grep -E '^(PIP_|ML_|METERLINK_)' | grep -v '^PIP_FIND_LINKS$' || true); do
        [ -n "${!var+x}" ] && envs+=("$var=${!var}")
      done
      chroot "$ML_CHROOT" /usr/bin/env -i -C "$PWD" "${envs[@]}" "$@"
      ;;
    native)
      PATH="$ML_VENV/bin:$PATH" "$@"
      ;;
    *)
      echo "The environment is not set up: run scripts/setup first." >&2
      return 1
      ;;
  esac
}

# Sourced by scripts/trixie-root.sh and scripts/trixie-test.sh.
# /dev inside the root: its own device nodes (never a bind of the host's
# /dev: deleting the root's files through such a bind deletes the host's
# devices), a new devpts instance and a new tmpfs.
make_dev_nodes() {
  local r=$1 spec name major minor
  mkdir -p "$r/dev"
  for spec in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    read -r name major minor <<<"$spec"
    [ -c "$r/dev/$name" ] || { rm -f "$r/dev/$name"; mknod -m 666 "$r/dev/$name" c "$major" "$minor"; }
  done
  ln -sfn /proc/self/fd "$r/dev/fd"
  ln -sfn /proc/self/fd/0 "$r/dev/stdin"
  ln -sfn /proc/self/fd/1 "$r/dev/stdout"
  ln -sfn /proc/self/fd/2 "$r/dev/stderr"
  ln -sfn pts/ptmx "$r/dev/ptmx"
}

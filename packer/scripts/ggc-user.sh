#!/bin/sh
# The system account Greengrass components run as (--component-default-user GGC_USER:GGC_GROUP).
# ROOT (default /) lets it run against an unbooted tree: useradd/groupadd --prefix edit
# ROOT/etc/{passwd,group,shadow,gshadow} directly.
set -eu

ROOT=${ROOT:-/}
GGC_USER=${GGC_USER:-ggc_user}
GGC_GROUP=${GGC_GROUP:-ggc_group}
r=${ROOT%/}

case "$GGC_USER$GGC_GROUP" in
  *[!a-z0-9_-]*)
    echo "ggc-user: invalid user/group name '$GGC_USER:$GGC_GROUP'" >&2
    exit 3
    ;;
  *) ;;
esac

prefix=""
if [ "$ROOT" != / ]; then
  prefix="--prefix $r"
fi

has_entry() { # file name
  grep -q "^$2:" "$r/etc/$1" 2>/dev/null
}

if has_entry group "$GGC_GROUP"; then
  echo "ggc-user: group $GGC_GROUP exists"
else
  # shellcheck disable=SC2086 # $prefix is empty or two words
  groupadd $prefix --system "$GGC_GROUP"
  echo "ggc-user: created group $GGC_GROUP"
fi

if has_entry passwd "$GGC_USER"; then
  echo "ggc-user: user $GGC_USER exists"
else
  # A home, as the nucleus's own installer makes one (useradd -r -m): components run through
  # `sudo -H -u GGC_USER`, so HOME is this directory (pip install --user, ~/.cache, ~/.aws).
  install -d -m 0755 "$r/home"
  # shellcheck disable=SC2086
  useradd $prefix --system --gid "$GGC_GROUP" --create-home --home-dir "/home/$GGC_USER" \
    --shell /usr/sbin/nologin "$GGC_USER"
  echo "ggc-user: created user $GGC_USER"
fi

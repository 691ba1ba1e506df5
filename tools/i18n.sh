#!/bin/sh
# Extract every user-facing string into src/signin/locale/messages.pot, then bring each
# language's messages.po up to date with it (new strings arrive empty, changed ones fuzzy).
# Usage: tools/i18n.sh            extract + update every catalogue
#        tools/i18n.sh init CODE  start a new language (e.g. tools/i18n.sh init it)
# Nothing is compiled: signin compiles the .po files in memory when it starts using them.
# docs/i18n.md explains the whole workflow.
set -eu
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
[ -x "$PYBABEL" ] || PYBABEL=pybabel
LOCALE=src/signin/locale
POT="$LOCALE/messages.pot"

"$PYBABEL" extract -F babel.cfg --no-default-keywords \
    -k N_ -k Nn_:1,2 -k _ -k gettext -k ngettext:1,2 \
    --sort-by-file --add-location=file --width=100 \
    --project=signin --copyright-holder="the signin authors" \
    -o "$POT" src/signin

if [ "${1:-}" = "init" ]; then
    "$PYBABEL" init -D messages -i "$POT" -d "$LOCALE" -l "$2" --width=100
    exit 0
fi

for po in "$LOCALE"/*/LC_MESSAGES/messages.po; do
    [ -e "$po" ] || continue
    code="$(basename "$(dirname "$(dirname "$po")")")"
    "$PYBABEL" update -D messages -i "$POT" -d "$LOCALE" -l "$code" \
        --width=100 --ignore-obsolete --init-missing
done

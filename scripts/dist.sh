#!/usr/bin/env bash
# `make dist`: dist/moss, dist/boulder and dist/stone, each one file that runs with nothing else
# on the machine: no Python, no shared library. PyInstaller bundles the interpreter, our code and
# the C extensions; staticx then bundles the C library and the dynamic loader too, as upstream's
# static musl build of moss has them, so a system whose own libraries are broken can be repaired.
# The interpreter is the system's own Python (/usr/bin/python3): staticx refuses libraries
# carrying an RPATH, which a Python built under pyenv has.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
PYTHON=${DIST_PYTHON:-/usr/bin/python3}
ENV=build/dist-venv
tools=("${@:-moss boulder stone}")
read -r -a tools <<<"${tools[*]}"

[ -x "$PYTHON" ] || { echo "dist: needs $PYTHON (set DIST_PYTHON to another Python without an RPATH)" >&2; exit 1; }
UV_PROJECT_ENVIRONMENT=$ENV $UV sync --frozen --all-packages --no-dev --group dist --python "$PYTHON" --quiet
mkdir -p dist build/dyn
# The container's system-call filter needs libseccomp (found by ctypes at run time).
libseccomp=$("$ENV/bin/python" -c 'import ctypes.util; print(ctypes.util.find_library("seccomp") or "")')
[ -n "$libseccomp" ] || { echo "dist: libseccomp is missing (Debian: libseccomp2)" >&2; exit 1; }
libseccomp=$(PATH="$PATH:/sbin:/usr/sbin" ldconfig -p | awk -v n="$libseccomp" '$1 == n { print $NF; exit }')
for tool in "${tools[@]}"; do
    extra=()
    [ "$tool" = boulder ] && extra=(--collect-data boulder)
    [ "$tool" = stone ] || extra+=(--add-binary "$libseccomp:." --runtime-hook "$PWD/scripts/pyi_rth_libraries.py")
    "$ENV/bin/pyinstaller" --onefile --noconfirm --log-level WARN --name "$tool" \
        --distpath build/dyn --workpath "build/pyinstaller/$tool" --specpath build/pyinstaller \
        --collect-submodules "$tool" --collect-submodules moss_core --collect-submodules stone \
        --collect-submodules fnmatch_ext --copy-metadata "$tool" "${extra[@]}" \
        "packages/$tool/src/$tool/__main__.py"
    PATH="$PWD/$ENV/bin:$PATH" "$ENV/bin/staticx" --strip "build/dyn/$tool" "dist/$tool.part"
    chmod 755 "dist/$tool.part"
    mv "dist/$tool.part" "dist/$tool"
    echo "dist/$tool: $(du -h "dist/$tool" | cut -f1)"
done

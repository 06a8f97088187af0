# bash completion for mitogen(1), the libmitogen command line.
#
# The commands and options are read from `mitogen --help` and the
# transports from `mitogen transports`, so the completion follows the
# program it completes instead of a copy of its lists.
#
# SPDX-License-Identifier: BSD-3-Clause

# The commands: the lines of the "Commands:" section that name one.
_mitogen_commands ()
{
    "$1" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p'
}

# The long options, with "=" where they take a value.
_mitogen_options ()
{
    "$1" --help 2>/dev/null |
        sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*=\{0,1\}\).*/\2/p'
}

# A CONTEXT: each hop is a transport, with ":" after those that take an
# argument (sudo:USER, ssh:HOST); completes the last hop of a chain A/B.
_mitogen_contexts ()
{
    local prog=$1 cur=$2 prefix="" t
    if [[ $cur == */* ]]; then
        prefix=${cur%/*}/
        cur=${cur##*/}
    fi
    for t in $("$prog" transports 2>/dev/null | cut -f1); do
        case $t in
            local|fork) printf '%s\n' "$prefix$t" ;;
            *) printf '%s\n' "$prefix$t:" ;;
        esac
    done
}

_mitogen ()
{
    local cur prev words cword
    _init_completion -n =: || return

    local prog=${words[0]} i command="" nargs=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --) break ;;
            -*) ;;
            *)
                if [[ -z $command ]]; then
                    command=${words[i]}
                else
                    nargs=$((nargs + 1))
                fi
                ;;
        esac
    done

    case $prev in
        --host-key-policy)
            COMPREPLY=($(compgen -W 'enforce accept-new ignore' -- "$cur"))
            return ;;
        --identity-file|--known-hosts)
            _filedir
            return ;;
    esac
    case $cur in
        --host-key-policy=*)
            COMPREPLY=($(compgen -W 'enforce accept-new ignore' -- "${cur#*=}"))
            return ;;
        --identity-file=*|--known-hosts=*)
            cur=${cur#*=}
            _filedir
            return ;;
        -*)
            COMPREPLY=($(compgen -W "$(_mitogen_options "$prog")" -- "$cur"))
            [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
            return ;;
    esac

    if [[ -z $command ]]; then
        COMPREPLY=($(compgen -W "$(_mitogen_commands "$prog")" -- "$cur"))
        return
    fi
    if [[ $nargs -eq 0 && $command != transports ]]; then
        COMPREPLY=($(compgen -W "$(_mitogen_contexts "$prog" "$cur")" -- "$cur"))
        [[ ${COMPREPLY-} == *[:/] ]] && compopt -o nospace
        __ltrim_colon_completions "$cur"
    fi
} &&
    complete -F _mitogen mitogen

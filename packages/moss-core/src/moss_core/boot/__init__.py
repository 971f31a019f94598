"""Boot management: every kept state gets a Boot Loader Specification entry, its kernel and
initrds copied (named by content) where systemd-boot finds them, and loader.conf's default set
to the active state. `plan` is pure; `inputs` reads a state's tree, `fs` writes partitions,
`sync` ties them together, `config` holds a root's settings and `targets` opens the
partitions they name."""

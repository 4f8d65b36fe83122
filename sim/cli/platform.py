"""``foliodma platform show``: the machine a command would model, resolved.
"""
import json
import sys

from sim.cli.machine_options import add_platform_options, machine_of


def cmd_platform_show(args):
    from sim.machine import render_toml
    machine = machine_of(args)
    if args.json:
        print(json.dumps(machine.as_dict(), indent=2))
    elif args.toml:
        sys.stdout.write(render_toml(machine))
    else:
        width = max(len(key) for key in machine.values())
        print(f"platform: {machine.name}")
        for key, value in machine.values().items():
            if key != "name":
                shown = "unlimited" if value is None else value
                print(f"  {key:{width}s}  {shown}")
        print("\nevery value with its source: foliodma platform show --toml")
    return 0


def add_platform_command(commands):
    """The ``platform`` command and its ``show`` subcommand."""
    platform = commands.add_parser(
        "platform", help="the modelled machine: show the platform a run would use",
        description="The platform is the machine a run models: clocks, the DMA engine's "
                    "parameters, the IOMMU mode, the memory nodes, the cache hierarchy and "
                    "the host cost table. The built-in one is the seed's machine; "
                    "--platform FILE (TOML) and --set KEY=VALUE change it on every command "
                    "that runs the model.")
    actions = platform.add_subparsers(dest="platform_command", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show", help="print the resolved platform (after --platform and --set)",
        description="Prints every value of the platform a run would use, by section.key: "
                    "as a list, as JSON, or as a platform file with each value's source "
                    "(a starting point for your own).")
    add_platform_options(show)
    output = show.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print it as JSON, by section")
    output.add_argument("--toml", action="store_true",
                        help="print it as a platform file, each value with its source")
    show.set_defaults(func=cmd_platform_show)

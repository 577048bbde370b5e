"""``harness images ...``: build the harness images, or bootstrap their Debian base offline."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness import engine, images, labels

app = typer.Typer(help="Build and list the harness's container images.", no_args_is_help=True)
console = Console(highlight=False)

CaOpt = Annotated[
    str | None,
    typer.Option(
        "--ca-bundle",
        help=f"Extra CA bundle (PEM) baked into the image trust store and exported for node, npm "
        f"and pip. Default: ${images.CA_ENV}, else the host's {images.HOST_CA_BUNDLE}; 'none' disables.",
    ),
]


def default_images() -> list[str]:
    """What `images build` and `doctor` build by default: base, then every agent's image."""
    return ["base", *images.agent_images()]


@app.command("build")
def build_cmd(
    names: Annotated[list[str] | None, typer.Argument(
        help=f"{', '.join(images.IMAGES)} (default: {' '.join(default_images())})")] = None,
    ca_bundle: CaOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the content hash matches.")] = False,
    build_arg: Annotated[list[str] | None, typer.Option("--build-arg", help="KEY=VALUE, e.g. CLAUDE_CODE_VERSION=2.1.197")] = None,
) -> None:
    """Build images (and their parents), reusing any whose content hash already exists."""
    ca = images.resolve_ca_bundle(ca_bundle)
    args: dict[str, str] = {}
    for item in build_arg or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            from harness.errors import ConfigError

            raise ConfigError(f"--build-arg {item!r} must be KEY=VALUE")
        args[k] = v
    c = engine.client()
    try:
        for name in names or default_images():
            images.build(c, name, ca_bundle=ca, build_args=args or None, force=force, say=console.print)
    finally:
        c.close()


@app.command("bootstrap")
def bootstrap_cmd(
    mirror: Annotated[str | None, typer.Option(help="Debian mirror URL (default: the host's apt sources)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-create even if the tag exists.")] = False,
) -> None:
    """Make debian:bookworm-slim from the host's apt mirror (debootstrap + docker import), no registry needed."""
    images.bootstrap_debian(mirror=mirror, force=force, say=console.print)


@app.command("list")
def list_cmd() -> None:
    """The harness images in the engine, with their content-hash tags."""
    c = engine.client()
    try:
        table = Table("image", "tags", "created", "size MB")
        for img in c.images.list(filters={"label": f"{labels.MANAGED}=true"}):
            table.add_row(
                img.labels.get(labels.IMAGE_NAME, "?"),
                ", ".join(img.tags) or "<untagged>",
                str(img.attrs.get("Created", ""))[:19],
                f"{img.attrs.get('Size', 0) / 1e6:.0f}",
            )
        console.print(table)
    finally:
        c.close()

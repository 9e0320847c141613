"""Command line: ``python -m agcc build|refs|params|landmarks``.

Examples
--------
``python -m agcc build --profile default``
    Execute every notebook under the default profile and build the HTML book.
``python -m agcc build --profile smoke --only 01 --no-book -p seed 3``
    Execute one notebook with one parameter overridden, without building the book.
``python -m agcc refs``
    Regenerate the nbval reference notebooks in ``tests/notebooks/`` (smoke profile).
``python -m agcc params --profile paper``
    List every parameter with its value in a profile, its type, allowed values and meaning.
``python -m agcc landmarks /data/CREMA-D --workers 2``
    Write the 68 face landmarks of every video as OpenFace CSVs in ``/data/CREMA-D/openface/``
    (:mod:`agcc.video_landmarks`; needs the ``video`` extra).
"""
from __future__ import annotations

import argparse
import logging
import sys

from .io import BuildLocked
from .params import ParameterError, describe


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agcc", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="execute the notebooks and build the book")
    build.add_argument("--profile", default="default", help="smoke, default, full or paper (agcc params lists them)")
    build.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="override one parameter (repeatable)")
    build.add_argument("--only", nargs="+", help="notebooks to execute (stem or NN prefix)")
    build.add_argument("--no-book", action="store_true", help="execute notebooks only")
    refs = sub.add_parser("refs", help="regenerate the nbval references (smoke profile)")
    refs.add_argument("--only", nargs="+", help="notebooks to regenerate (stem or NN prefix)")
    params = sub.add_parser("params", help="list the parameters: value in a profile, type, allowed values, meaning")
    params.add_argument("--profile", default="default")
    lm = sub.add_parser("landmarks", help="68 face landmarks of every video, as OpenFace CSVs (needs the video extra)")
    lm.add_argument("root", help="a CREMA-D or MSP-IMPROV root, a folder of videos, or one video")
    lm.add_argument("--out", help="folder of the CSVs (default: <root>/openface, where the book looks)")
    lm.add_argument("--workers", type=int, help="processes over videos (default: one per core)")
    lm.add_argument("--upsample", type=int, help="detector upsamplings on full frames (for faces under 80 px)")
    lm.add_argument("--no-track", action="store_true", help="detect on every full frame (no tracking)")
    lm.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _landmarks(args) -> int:
    """``landmarks``: run :func:`agcc.video_landmarks.extract_landmarks`, print its summary;
    exit status 1 when any video failed. Options left out keep the function's defaults."""
    try:
        from .video_landmarks import extract_landmarks
    except ImportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    options = {"workers": args.workers, "upsample": args.upsample}
    options = {k: v for k, v in options.items() if v is not None}
    try:
        summary = extract_landmarks(args.root, args.out, track=not args.no_track,
                                    progress=not args.no_progress, **options)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary)
    return 1 if summary.failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "landmarks":
        return _landmarks(args)
    from .runner import NotebookFailed, regenerate_references, run

    try:
        if args.command == "build":
            overrides = dict(args.param)
            record = run(args.profile, overrides, only=args.only, book=not args.no_book)
            if "index_html" in record:
                print(f"\nThe book is at {record['index_html']}")
        elif args.command == "refs":
            for path in regenerate_references(only=args.only):
                print(f"reference: {path}")
        elif args.command == "params":
            rows = describe(args.profile)
            columns = ("name", "value", "type", "allowed")  # then doc; long values overflow their column
            width = {key: max(len(key), *(min(len(r[key]), 34) for r in rows)) for key in columns}
            print("  ".join(f"{key:{width[key]}s}" for key in width) + "  doc")
            for r in rows:
                print("  ".join(f"{r[key]:{width[key]}s}" for key in width) + f"  {r['doc']}")
    except (ParameterError, NotebookFailed, BuildLocked) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ParameterError) else 1
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback (finished runs and caches are kept)
        # the notebook client's abandoned cell task would log its traceback when collected at exit
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print("\ninterrupted: finished runs and caches are kept; the same command resumes", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

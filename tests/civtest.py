"""Shared entry point of the Python tests: --civitas BINARY --source REPO, then unittest."""
import argparse
import os
import sys
import unittest


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--civitas", required=True, help="path of the civitas executable")
    ap.add_argument("--source", required=True, help="repository root")
    args, rest = ap.parse_known_args()
    args.source = os.path.abspath(args.source)
    args.civitas = os.path.abspath(args.civitas)
    return args, rest


def run_tests(rest):
    unittest.main(module="__main__", argv=[sys.argv[0], "-v", *rest])


def main(module):
    """Parses the options into module.ARGS and runs the module's tests."""
    module.ARGS, rest = parse_args()
    run_tests(rest)

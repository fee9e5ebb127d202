#!/usr/bin/env python3
"""The counterfactual report in a browser: headless Chromium (Debian's chromium) loads report.html from
disk with networking off, the DOM it builds has every section, table and inline figure, and a screenshot
shows the figures drawn (pixels of the base's and the scenario's colours). Skipped, with the reason, where
chromium is not installed (.ci/install-deps installs it)."""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import civtest
import numpy as np

ARGS = None
SKIP = 77   # CTest SKIP_RETURN_CODE
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
                  "--hide-scrollbars"]
SECTIONS = ("overview", "averted", "figures", "totals", "base-vs-observed", "method")


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def read_png(path):
    """RGB pixels of a PNG as a numpy array [height][width][3]: with Pillow (python3-pil) where installed,
    else decoded here (8-bit RGB or RGBA; slower: the Paeth and average filters go pixel by pixel)."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB")).astype(np.int32)
    except ImportError:
        pass
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            ch = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * ch)
    out = np.zeros((height, width * ch), dtype=np.int32)
    prev = np.zeros(width * ch, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 1:
            cur = np.cumsum(line.reshape(width, ch), axis=0).reshape(-1) & 255
        elif kind == 2:
            cur = (line + prev) & 255
        else:
            cur, ln, pv = [0] * len(line), line.tolist(), prev.tolist()
            for x in range(len(ln)):
                a = cur[x - ch] if x >= ch else 0
                b, c = pv[x], pv[x - ch] if x >= ch else 0
                if kind == 3:
                    q = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    q = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[x] = (ln[x] + q) & 255
            cur = np.array(cur, dtype=np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, ch)[:, :, :3]


class ReportInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        models = os.path.join(ARGS.source, "models", "covid")
        ens = os.path.join(d, "ens.h5")
        p = subprocess.run([ARGS.civitas, "ensemble", os.path.join(models, "nyc2020_calibrated.json"),
                            os.path.join(models, "nyc2020_early_lockdown.json"), "--seeds", "3", "--scale", "0.003",
                            "--steps", "100", "-q", "-o", ens], capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stderr
        cls.report = os.path.join(d, "report")
        p = subprocess.run([ARGS.civitas, "report", ens, "-o", cls.report], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        cls.url = "file://" + os.path.join(cls.report, "report.html")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def browse(self, *args):
        profile = tempfile.mkdtemp(dir=self.dir)
        # Chromium's start-up alone can take tens of seconds on a loaded 2-core machine
        return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, self.url],
                              capture_output=True, text=True, timeout=300)

    def test_dom_has_every_section(self):
        p = self.browse("--dump-dom")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        dom = p.stdout
        for sec in SECTIONS:
            self.assertIn(f'<section id="{sec}">', dom)
        self.assertEqual(len(re.findall(r"<svg\b", dom)), 2)
        # studies, 2 averted, totals, base vs observed, serosurveys, rates by age
        self.assertEqual(len(re.findall(r"<table\b", dom)), 7)
        for heading in ('<h3 id="serosurveys">', '<h3 id="by-age">'):
            self.assertIn(heading, dom)
        self.assertIn("nyc2020_early_lockdown (scenario) vs nyc2020_calibrated (base)", dom)
        self.assertIn("held out from 2020-06-01", dom)

    def test_screenshot_shows_the_figures(self):
        png = os.path.join(self.dir, "shot.png")
        p = self.browse(f"--screenshot={png}", "--window-size=1400,3000")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        img = read_png(png)
        self.assertEqual(img.shape, (3000, 1400, 3))
        def near(rgb, tol=40):
            return int((np.abs(img - np.array(rgb)).sum(axis=2) < tol).sum())
        # the base's median lines (#1f5fbf) and the scenario's (#d2691e) are drawn, and the page is not blank
        self.assertGreater(near((31, 95, 191)), 2000)
        self.assertGreater(near((210, 105, 30)), 1000)
        self.assertGreater(len(np.unique(img.reshape(-1, 3), axis=0)), 50)


if __name__ == "__main__":
    if not chromium():
        print("SKIP: chromium is not installed (apt-get install chromium; .ci/install-deps does), so the report "
              "is not checked in a browser")
        sys.exit(SKIP)
    civtest.main(sys.modules[__name__])

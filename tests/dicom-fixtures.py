#!/usr/bin/python3
"""dicom-fixtures.py OUT — the DICOM fixtures of test-dicom, from known pixels.

Base objects are written by pydicom (an implementation independent of GDCM,
which m3ret reads with); GDCM's own gdcmconv then re-encodes some of them in
every compressed transfer syntax.  For each case the expected values are
computed here with numpy from the known pixels and the standard's rules, and
written as float32 in m3ret's volume order [channel][frame][row][column].

OUT/cases.tsv lists the cases, one per line, tab-separated:
  read   NAME UNITS(hu|unit) WIDTH HEIGHT DEPTH CHANNELS TOLERANCE SYNTAX SX SY SZ
         (the values in NAME.UNITS.f32, '#' in NAME written as '_')
  refuse NAME TEXT   (the error must contain TEXT)
  plugin NAME PLUGIN (the m3ret modality its Modality attribute maps to)
TOLERANCE is the largest error allowed as a fraction of the value range
(0: exact).  Paths are relative to OUT; a folder is a series.
"""
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (ExplicitVRBigEndian, ExplicitVRLittleEndian, generate_uid)

OUT = sys.argv[1]
CASES = []
SYNTAX_NAMES = {
    "1.2.840.10008.1.2": "implicit VR little endian",
    "1.2.840.10008.1.2.1": "explicit VR little endian",
    "1.2.840.10008.1.2.2": "explicit VR big endian",
    "1.2.840.10008.1.2.1.99": "deflated explicit VR little endian",
    "1.2.840.10008.1.2.4.50": "JPEG baseline",
    "1.2.840.10008.1.2.4.51": "JPEG extended",
    "1.2.840.10008.1.2.4.57": "JPEG lossless",
    "1.2.840.10008.1.2.4.70": "JPEG lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS near-lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.5": "RLE lossless",
}
# Secondary Capture, MR, CT, US, CR storage classes.
SOP = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4",
       "US": "1.2.840.10008.5.1.4.1.1.6.1", "CR": "1.2.840.10008.5.1.4.1.1.1",
       "DX": "1.2.840.10008.5.1.4.1.1.1.1", "ES": "1.2.840.10008.5.1.4.1.1.77.1.1",
       "NM": "1.2.840.10008.5.1.4.1.1.20", "SR": "1.2.840.10008.5.1.4.1.1.88.11",
       "MRE": "1.2.840.10008.5.1.4.1.1.4.1"}


def smooth(h, w, lo, hi, seed):
    """A smooth image with edges: lossy codecs keep it close."""
    y, x = np.mgrid[0:h, 0:w]
    r = np.random.default_rng(seed)
    a, b = r.uniform(0.5, 2.0, 2)
    v = 0.5 + 0.25 * np.sin(a * x / w * np.pi) * np.cos(b * y / h * np.pi)
    v += 0.2 * ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 4) ** 2)
    return np.clip(lo + (hi - lo) * v, lo, hi)


def dataset(modality, rows, cols, *, bits=16, stored=None, signed=False, samples=1,
            photometric="MONOCHROME2", frames=None, sop=None, series_uid=None):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP[sop or modality]
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    # A made-up patient: the reader must keep none of this.
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "PID-0042"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.BodyPartExamined = "CHEST"
    if rows:
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = samples
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = bits
        ds.BitsStored = stored or bits
        ds.HighBit = (stored or bits) - 1
        ds.PixelRepresentation = 1 if signed else 0
        if samples == 3:
            ds.PlanarConfiguration = 0
        if frames is not None:
            ds.NumberOfFrames = frames
    return ds


def save(ds, name, pixels=None, big_endian=False):
    if pixels is not None:
        dt = pixels.dtype.newbyteorder(">" if big_endian else "<")
        ds.PixelData = pixels.astype(dt).tobytes()
    path = os.path.join(OUT, name)
    if big_endian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
        ds.is_little_endian = False
    ds.save_as(path, write_like_original=False)
    return path


def expect(name, values, units, syntax, tol=0.0, spacing=(1, 1, 1)):
    """values: [c][z][y][x] (or [z][y][x], or [y][x]) float array."""
    v = np.asarray(values, dtype=np.float64)
    while v.ndim < 4:
        v = v[np.newaxis]
    c, d, h, w = v.shape
    v.astype("<f4").tofile(os.path.join(OUT, "%s.%s.f32" % (name.replace("#", "_"), units)))
    CASES.append("\t".join(str(x) for x in (
        "read", name, units, w, h, d, c, tol, syntax, *spacing)))


def gdcmconv(src, name, *flags):
    """Re-encodes @src with GDCM; returns the transfer syntax name it wrote."""
    dst = os.path.join(OUT, name)
    subprocess.run(["gdcmconv", *flags, "-i", src, "-o", dst], check=True,
                   stdout=subprocess.DEVNULL)
    uid = pydicom.dcmread(dst, stop_before_pixels=True).file_meta.TransferSyntaxUID
    return SYNTAX_NAMES.get(str(uid), str(uid))


def main():
    os.makedirs(OUT, exist_ok=True)
    E = "explicit VR little endian"

    # CT, signed 16-bit with a Modality LUT: values in HU exactly.
    s16 = np.round(smooth(20, 24, -2000, 3000, 1)).astype(np.int16)
    ds = dataset("CT", 20, 24, signed=True)
    ds.RescaleSlope, ds.RescaleIntercept = "0.5", "-100"
    ds.PixelSpacing = ["0.7", "0.6"]
    save(ds, "ct-s16.dcm", s16)
    expect("ct-s16.dcm", s16 * 0.5 - 100, "hu", E, spacing=(0.6, 0.7, 1))
    CASES.append("plugin\tct-s16.dcm\tct")

    # CT, 12 of 16 bits stored, junk in the 4 bits above High Bit.
    u12 = np.round(smooth(16, 16, 0, 4095, 2)).astype(np.uint16)
    junk = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) % 16) << 12
    ds = dataset("CT", 16, 16, stored=12)
    ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
    save(ds, "ct-u12-junk.dcm", u12 | junk)
    expect("ct-u12-junk.dcm", u12.astype(np.float64) - 1024, "hu", E)

    # MR, 12 bits stored: the base of every transfer syntax.
    mr = np.round(smooth(32, 40, 0, 4095, 3)).astype(np.uint16)
    ds = dataset("MR", 32, 40, stored=12)
    ds.PixelSpacing = ["1.5", "1.25"]
    base = save(ds, "mr-explicit.dcm", mr)
    expect("mr-explicit.dcm", mr, "hu", E, spacing=(1.25, 1.5, 1))
    CASES.append("plugin\tmr-explicit.dcm\tmri")
    ds = dataset("MR", 32, 40, stored=12)
    ds.PixelSpacing = ["1.5", "1.25"]
    save(ds, "mr-bigendian.dcm", mr, big_endian=True)
    expect("mr-bigendian.dcm", mr, "hu", "explicit VR big endian", spacing=(1.25, 1.5, 1))
    lossless = [("mr-implicit.dcm", ["-M"]), ("mr-deflated.dcm", ["-d"]),
                ("mr-jpeg-lossless.dcm", ["-J"]), ("mr-jpegls.dcm", ["-L"]),
                ("mr-j2k-lossless.dcm", ["-K"]), ("mr-rle.dcm", ["-R"])]
    for name, flags in lossless:
        syntax = gdcmconv(base, name, *flags)
        expect(name, mr, "hu", syntax, spacing=(1.25, 1.5, 1))
    # Lossy: within a stated fraction of the range (smooth pixels).
    lossy = [("mr-jpeg-extended.dcm", ["-J", "-Y", "-q", "90"], 0.05),
             ("mr-jpegls-near.dcm", ["-L", "-Y", "-e", "3"], 0.002),
             ("mr-j2k-lossy.dcm", ["-K", "-Y", "-q", "80"], 0.05)]
    for name, flags, tol in lossy:
        syntax = gdcmconv(base, name, *flags)
        expect(name, mr, "hu", syntax, tol=tol, spacing=(1.25, 1.5, 1))

    # 8-bit radiograph for JPEG baseline, read scaled to [0,1].
    x8 = np.round(smooth(32, 32, 0, 255, 4)).astype(np.uint8)
    ds = dataset("DX", 32, 32, bits=8)
    ds.ImagerPixelSpacing = ["0.2", "0.2"]
    b8 = save(ds, "dx-8.dcm", x8)
    expect("dx-8.dcm", x8 / 255.0, "unit", E, spacing=(0.2, 0.2, 1))
    CASES.append("plugin\tdx-8.dcm\txray")
    syntax = gdcmconv(b8, "dx-jpeg-baseline.dcm", "-J", "-Y", "-q", "95")
    expect("dx-jpeg-baseline.dcm", x8 / 255.0, "unit", syntax, tol=0.05, spacing=(0.2, 0.2, 1))

    # MONOCHROME1: white is the lowest value.
    m1 = np.round(smooth(16, 20, 0, 4095, 5)).astype(np.uint16)
    ds = dataset("CR", 16, 20, stored=12, photometric="MONOCHROME1")
    save(ds, "cr-mono1.dcm", m1)
    expect("cr-mono1.dcm", 1.0 - m1 / 4095.0, "unit", E)
    expect("cr-mono1.dcm", 4095.0 - m1, "hu", E)
    CASES.append("plugin\tcr-mono1.dcm\txray")

    # Ultrasound cine: RGB, 3 frames, Frame Time 40 ms, both planar layouts.
    rgb = np.stack([np.round(smooth(12, 16, 0, 255, 10 + f * 3 + c)) for f in range(3)
                    for c in range(3)]).reshape(3, 3, 12, 16).astype(np.uint8)  # f, c, y, x
    want = rgb.transpose(1, 0, 2, 3) / 255.0  # c, f, y, x
    for planar in (0, 1):
        ds = dataset("US", 12, 16, bits=8, samples=3, photometric="RGB", frames=3)
        ds.PlanarConfiguration = planar
        ds.FrameTime = "40"
        px = rgb.transpose(0, 2, 3, 1) if planar == 0 else rgb  # f,y,x,c or f,c,y,x
        path = save(ds, "us-rgb-planar%d.dcm" % planar, px)
        expect("us-rgb-planar%d.dcm" % planar, want, "unit", E)
    CASES.append("plugin\tus-rgb-planar0.dcm\tultrasound")
    syntax = gdcmconv(os.path.join(OUT, "us-rgb-planar0.dcm"), "us-rgb-rle.dcm", "-R")
    expect("us-rgb-rle.dcm", want, "unit", syntax)

    # Endoscopy stills in YBR_FULL and YBR_FULL_422 (PS3.3 C.7.6.3.1.2).
    yy = np.round(smooth(8, 12, 16, 235, 20)).astype(np.uint8)
    cb = np.round(smooth(8, 12, 60, 200, 21)).astype(np.uint8)
    cr = np.round(smooth(8, 12, 60, 200, 22)).astype(np.uint8)

    def to_rgb(y, b, r):
        y, b, r = (a.astype(np.float64) for a in (y, b, r))
        out = np.stack([y + 1.402 * (r - 128), y - 0.344136 * (b - 128) - 0.714136 * (r - 128),
                        y + 1.772 * (b - 128)])
        return np.clip(out, 0, 255)[:, np.newaxis] / 255.0

    ds = dataset("ES", 8, 12, bits=8, samples=3, photometric="YBR_FULL")
    save(ds, "es-ybr-full.dcm", np.stack([yy, cb, cr], axis=-1))
    expect("es-ybr-full.dcm", to_rgb(yy, cb, cr), "unit", E)
    CASES.append("plugin\tes-ybr-full.dcm\tendoscopy")
    # 4:2:2: one Cb and one Cr for each pair of pixels along a row.
    cb2, cr2 = cb[:, 0::2], cr[:, 0::2]
    packed = np.empty((8, 6, 4), np.uint8)
    packed[..., 0], packed[..., 1] = yy[:, 0::2], yy[:, 1::2]
    packed[..., 2], packed[..., 3] = cb2, cr2
    ds = dataset("ES", 8, 12, bits=8, samples=3, photometric="YBR_FULL_422")
    save(ds, "es-ybr-422.dcm", packed)
    expect("es-ybr-422.dcm", to_rgb(yy, np.repeat(cb2, 2, axis=1), np.repeat(cr2, 2, axis=1)),
           "unit", E)

    # Palette colour: 8-bit indices through 16-bit lookup tables.
    idx = (np.arange(10 * 14).reshape(10, 14) * 7 % 256).astype(np.uint8)
    lut = [(np.arange(256) * k * 37 % 65536).astype(np.uint16) for k in (1, 3, 5)]
    ds = dataset("US", 10, 14, bits=8, photometric="PALETTE COLOR")
    for tag, table in zip(("Red", "Green", "Blue"), lut):
        setattr(ds, tag + "PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, tag + "PaletteColorLookupTableData", table.astype("<u2").tobytes())
    save(ds, "us-palette.dcm", idx)
    expect("us-palette.dcm", np.stack([t[idx] for t in lut])[:, np.newaxis] / 65535.0, "unit", E)

    # Enhanced MR: 4 frames with per-frame positions 3 mm apart.
    em = np.round(np.stack([smooth(10, 12, 0, 1000, 30 + f) for f in range(4)])).astype(np.uint16)
    ds = dataset("MR", 10, 12, frames=4, sop="MRE")
    shared = Dataset()
    measures, orient = Dataset(), Dataset()
    measures.PixelSpacing = ["0.9", "0.8"]
    measures.SliceThickness = "9"
    orient.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orient])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for f in range(4):
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = ["0", "0", str(5 + 3 * f)]
        item.PlanePositionSequence = Sequence([pos])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    save(ds, "mr-enhanced.dcm", em)
    expect("mr-enhanced.dcm", em, "hu", E, spacing=(0.8, 0.9, 3))

    # A series of 6 axial slices in shuffled files; reoriented to RAS.
    def series(folder, n=6, z=None, sizes=None, orients=None, uid=None, seed=40, prefix="s"):
        os.makedirs(os.path.join(OUT, folder), exist_ok=True)
        uid = uid or generate_uid()
        z = z if z is not None else [-10 + 2.5 * k for k in range(n)]
        slices = []
        names = ["%s%03d.dcm" % (prefix, k) for k in range(len(z))]
        random.Random(seed).shuffle(names)
        for k, zk in enumerate(z):
            h, w = sizes[k] if sizes else (6, 8)
            px = np.round(smooth(h, w, -1000, 1000, seed + k)).astype(np.int16)
            ds = dataset("CT", h, w, signed=True, series_uid=uid)
            ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
            ds.PixelSpacing = ["0.7", "0.6"]
            ds.SliceThickness = "10"  # never the spacing
            ds.ImageOrientationPatient = orients[k] if orients else ["1", "0", "0", "0", "1", "0"]
            ds.ImagePositionPatient = ["-20", "-30", str(zk)]
            save(ds, os.path.join(folder, names[k]), px)
            slices.append((zk, px))
        return uid, slices

    _, sl = series("series-ok")
    stack = np.stack([p for _, p in sorted(sl, key=lambda s: s[0])]).astype(np.float64)
    # LPS rows run to the left and columns to posterior: RAS flips both.
    expect("series-ok", stack[:, ::-1, ::-1], "hu", E, spacing=(0.6, 0.7, 2.5))
    CASES.append("plugin\tseries-ok\tct")
    series("series-gap", z=[0, 2, 4, 10, 12])
    CASES.append("refuse\tseries-gap\ta gap of 6.000 mm")
    tilt = ["1", "0", "0", "0", "0.8660254", "-0.5"]
    series("series-orient", n=4, orients=[["1", "0", "0", "0", "1", "0"]] * 3 + [tilt])
    CASES.append("refuse\tseries-orient\tmixed orientations")
    series("series-dup", z=[0, 2, 2, 4])
    CASES.append("refuse\tseries-dup\tshare the position")
    series("series-size", n=3, sizes=[(6, 8), (6, 8), (8, 8)])
    CASES.append("refuse\tseries-size\tmixed sizes")
    series("series-one", n=1)
    CASES.append("refuse\tseries-one\ta series of one file")
    a, sa = series("series-two", n=3, seed=50)
    b, _ = series("series-two", n=4, seed=60, prefix="t")
    CASES.append("refuse\tseries-two\tholds 2 DICOM series")
    stack = np.stack([p for _, p in sorted(sa, key=lambda s: s[0])]).astype(np.float64)
    expect("series-two#" + a, stack[:, ::-1, ::-1], "hu", E, spacing=(0.6, 0.7, 2.5))

    # Refused by name: a report without pixels, a modality no plugin maps.
    ds = dataset("SR", 0, 0)
    save(ds, "report-sr.dcm")
    CASES.append("refuse\treport-sr.dcm\ta DICOM SR object without pixel data")
    ds = dataset("NM", 8, 8)
    save(ds, "nm-unmapped.dcm", np.zeros((8, 8), np.uint16))
    CASES.append("refuse\tnm-unmapped.dcm\tDICOM Modality 'NM' is read by no m3ret modality")

    with open(os.path.join(OUT, "cases.tsv"), "w") as f:
        f.write("\n".join(CASES) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""write-dicom-tree.py ROOT — the DICOM part of test-manifest's tree, written
with pydicom (Debian's python3-pydicom) from known pixels:

  ROOT/head/ct-series/      one CT series of 4 slices, nothing else
                            (BodyPartExamined HEAD)
  ROOT/chest/mixed/         a CT series of 3 slices and an MR series of
                            3 slices side by side (CHEST), and a text file
  ROOT/abdomen/us/          two ultrasound stills of one series (ABDOMEN)

Series Instance UIDs are fixed (SERIES below) so the test can name the
rows; slices are written out of order: the file names do not follow the
positions.  Prints nothing; exits non-zero on failure.
"""
import os
import sys

import numpy
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SERIES = {"head": "1.2.826.0.1.3680043.8.498.10", "chest-ct": "1.2.826.0.1.3680043.8.498.20",
          "chest-mr": "1.2.826.0.1.3680043.8.498.30", "us": "1.2.826.0.1.3680043.8.498.40"}


def write(path, modality, sop_class, series_uid, body_part, pixels, position=None):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.BodyPartExamined = body_part
    ds.Rows, ds.Columns = pixels.shape[:2]
    if pixels.ndim == 3:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [1, 1]
    if position is not None:
        ds.ImagePositionPatient = [0, 0, position]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceThickness = 2
    if modality == "CT":
        ds.RescaleSlope = 1
        ds.RescaleIntercept = -1024
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, write_like_original=False)


def series(folder, uid, modality, sop_class, body_part, n, names):
    for k in range(n):
        pixels = (numpy.arange(16 * 16, dtype=numpy.uint16).reshape(16, 16) + 100 * k)
        write(os.path.join(folder, names[k]), modality, sop_class, uid, body_part, pixels,
              position=2.0 * k)


def main():
    root = sys.argv[1]
    for sub in ("head/ct-series", "chest/mixed", "abdomen/us"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    # names in an order the positions do not follow
    series(os.path.join(root, "head/ct-series"), SERIES["head"], "CT", CT_IMAGE, "HEAD", 4,
           ["IM3", "IM1", "IM4", "IM2"])
    mixed = os.path.join(root, "chest/mixed")
    series(mixed, SERIES["chest-ct"], "CT", CT_IMAGE, "CHEST", 3, ["ct-b", "ct-c", "ct-a"])
    series(mixed, SERIES["chest-mr"], "MR", MR_IMAGE, "CHEST", 3, ["mr-2", "mr-1", "mr-3"])
    with open(os.path.join(mixed, "notes.txt"), "w") as f:
        f.write("not an image\n")
    uid = SERIES["us"]
    for k in range(2):
        rgb = numpy.full((12, 12, 3), 40 * (k + 1), dtype=numpy.uint8)
        write(os.path.join(root, "abdomen/us", "still-%d.dcm" % k), "US", US_IMAGE, uid,
              "ABDOMEN", rgb)


if __name__ == "__main__":
    main()

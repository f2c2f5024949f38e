"""A realistic phone photo for the upload cell and the upload tests: a noisy JPEG of about 300 KB carrying
the EXIF a camera writes (GPS position, device, time, Orientation 6 = shot in portrait), an XMP packet and
a comment, so that everything sidecar/uploads.py must strip is there."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw, ExifTags

# GPS of the Forbidden City: what must never reach the stored file.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (39.0, 54.0, 57.0),
    ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (116.0, 23.0, 26.0),
}
XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="39,54.95N"/></rdf:RDF></x:xmpmeta>'
       b'<?xpacket end="w"?>')
# The stored pixels are turned by Orientation 6: a red mark in the top left corner of the sensor image
# shows in the top right corner of the displayed (and stored) picture.
MARK = (255, 0, 0)


def camera_exif(orientation: int = 6) -> Image.Exif:
    """EXIF as a phone writes it: device, time, orientation and the GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15 Pro"
    exif[ExifTags.Base.DateTime] = "2026:11:29 10:15:00"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    return exif


def phone_photo(width: int = 1280, height: int = 960, orientation: int = 6, quality: int = 85,
                fmt: str = "JPEG") -> bytes:
    """The sensor image (width x height, landscape) with camera EXIF; JPEG ~300 KB at the defaults."""
    noise = Image.effect_noise((width, height), 22)  # sigma 22: ~300 KB at 1280 x 960, quality 85
    image = Image.merge("RGB", (noise, Image.linear_gradient("L").resize((width, height)), noise.rotate(180)))
    ImageDraw.Draw(image).rectangle((0, 0, width // 8, height // 8), fill=MARK)
    out = io.BytesIO()
    options = {"exif": camera_exif(orientation).tobytes(), "xmp": XMP}
    if fmt == "JPEG":
        options.update(quality=quality, comment=b"shot at 39.9N 116.4E")
    image.save(out, format=fmt, **options)
    return out.getvalue()

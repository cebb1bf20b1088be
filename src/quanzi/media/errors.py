"""Refusals of the media domain: what an upload or an attachment can get wrong."""

from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class MediaCode(StrEnum):
    NOT_FOUND = "media.not_found"
    NOT_AN_IMAGE = "media.not_an_image"
    DAMAGED = "media.damaged"
    UNSUPPORTED_TYPE = "media.unsupported_type"
    TOO_LARGE = "media.too_large"
    TOO_MANY_PIXELS = "media.too_many_pixels"
    EMPTY = "media.empty"
    TOO_MANY_FILES = "media.too_many_files"
    WRONG_PURPOSE = "media.wrong_purpose"
    ALREADY_USED = "media.already_used"
    STORAGE = "media.storage_unavailable"


class MediaNotFound(DomainError):
    status = 404
    code = MediaCode.NOT_FOUND
    message = {"zh": "图片不存在", "en": "Image not found"}


class NotAnImage(DomainError):
    status = 422
    code = MediaCode.NOT_AN_IMAGE
    message = {"zh": "这个文件不是图片，请上传 JPEG、PNG 或 WebP 格式的照片",
               "en": "This file is not an image; upload a JPEG, PNG or WebP photo"}


class Damaged(DomainError):
    status = 422
    code = MediaCode.DAMAGED
    message = {"zh": "图片文件已损坏或不完整，请重新选择", "en": "The image file is damaged or incomplete; choose it again"}


class UnsupportedType(DomainError):
    status = 415
    code = MediaCode.UNSUPPORTED_TYPE
    message = {"zh": "不支持 {kind} 格式，请上传 JPEG、PNG 或 WebP 格式的图片",
               "en": "{kind} images are not supported; upload a JPEG, PNG or WebP image"}


class TooLarge(DomainError):
    status = 413
    code = MediaCode.TOO_LARGE
    message = {"zh": "图片太大了，最大 {limit}", "en": "The image is too large; at most {limit}"}


class TooManyPixels(DomainError):
    status = 422
    code = MediaCode.TOO_MANY_PIXELS
    message = {"zh": "图片尺寸太大（{width}×{height}），最多 {max_mp} 百万像素",
               "en": "The image is too big ({width}×{height}); at most {max_mp} megapixels"}


class Empty(DomainError):
    status = 422
    code = MediaCode.EMPTY
    message = {"zh": "请选择要上传的图片", "en": "Choose an image to upload"}


class TooManyFiles(DomainError):
    status = 422
    code = MediaCode.TOO_MANY_FILES
    message = {"zh": "最多 {max} 张图片", "en": "At most {max} images"}


class WrongPurpose(DomainError):
    status = 409
    code = MediaCode.WRONG_PURPOSE
    message = {"zh": "这张图片是为别处上传的，不能用在这里", "en": "This image was uploaded for something else"}


class AlreadyUsed(DomainError):
    status = 409
    code = MediaCode.ALREADY_USED
    message = {"zh": "这张图片已经用过了，请重新上传", "en": "This image is already in use; upload it again"}


class StorageUnavailable(DomainError):
    status = 503
    code = MediaCode.STORAGE
    message = {"zh": "图片暂时无法保存，请稍后再试", "en": "The image cannot be stored right now; try again later"}

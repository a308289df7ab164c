"""Constants shared by the i-PRO NVR integration."""

from enum import StrEnum
from typing import Final

DOMAIN: Final = "ipro_nvr"
MANUFACTURER: Final = "i-PRO"

# Options: poll cadences in seconds. The event log is polled on every coordinator
# refresh; the others ride along with at most one extra command per refresh, so a
# refresh never queues more than two commands behind the NVR's 3 s pacing.
CONF_EVENT_LOG_INTERVAL: Final = "event_log_interval"
CONF_STATUS_INTERVAL: Final = "status_interval"
CONF_HDD_INTERVAL: Final = "hdd_interval"
DEFAULT_EVENT_LOG_INTERVAL: Final = 5
DEFAULT_STATUS_INTERVAL: Final = 30
DEFAULT_HDD_INTERVAL: Final = 600
# The UID dies after 90 s without a command; the event-log poll is what keeps it alive.
MAX_EVENT_LOG_INTERVAL: Final = 60
MIN_EVENT_LOG_INTERVAL: Final = 3
MIN_STATUS_INTERVAL: Final = 10
MAX_STATUS_INTERVAL: Final = 3600
MIN_HDD_INTERVAL: Final = 60
MAX_HDD_INTERVAL: Final = 86400

# Option: the live codec to ask cameras for first ("H264" or "H265"); a camera that
# streams the other one is found out and asked for that instead.
CONF_VIDEO_CODEC: Final = "video_codec"
DEFAULT_VIDEO_CODEC: Final = "H264"

# Bus event fired once per new log entry, and its data keys.
EVENT_IPRO_NVR: Final = "ipro_nvr_event"
ATTR_LOG: Final = "log"
ATTR_KIND: Final = "kind"
ATTR_CAMERA: Final = "camera"
ATTR_TIME: Final = "time"
ATTR_TYPE: Final = "type"
ATTR_ENTRY_ID: Final = "entry_id"
ATTR_DEVICE_ID: Final = "device_id"

# What has been seen in the logs survives restarts here (one store per config entry).
STORAGE_VERSION: Final = 1
STORAGE_SAVE_DELAY: Final = 10

# Repair issue ids are suffixed with the config entry id.
ISSUE_DISK_FAULT: Final = "disk_fault"
ISSUE_NO_FREE_SESSION: Final = "no_free_session"

REQUEST_TIMEOUT: Final = 10.0


class LogEventType(StrEnum):
    """The small fixed set a log entry's free-form kind text is mapped to."""

    MOTION = "motion"
    ALARM = "alarm"
    COMMUNICATION_ERROR = "communication_error"
    COMMUNICATION_RECOVERED = "communication_recovered"
    RECORDING = "recording"
    OTHER = "other"


LOG_EVENT_TYPES: Final = [event_type.value for event_type in LogEventType]

#include "mxrtc/livekit/messages.hpp"

namespace mxrtc::livekit {

std::string_view toString(DisconnectReason r) {
    switch (r) {
        case DisconnectReason::Unknown:
            return "unknown";
        case DisconnectReason::ClientInitiated:
            return "client_initiated";
        case DisconnectReason::DuplicateIdentity:
            return "duplicate_identity";
        case DisconnectReason::ServerShutdown:
            return "server_shutdown";
        case DisconnectReason::ParticipantRemoved:
            return "participant_removed";
        case DisconnectReason::RoomDeleted:
            return "room_deleted";
        case DisconnectReason::StateMismatch:
            return "state_mismatch";
        case DisconnectReason::JoinFailure:
            return "join_failure";
        case DisconnectReason::Migration:
            return "migration";
        case DisconnectReason::SignalClose:
            return "signal_close";
        case DisconnectReason::RoomClosed:
            return "room_closed";
        case DisconnectReason::UserUnavailable:
            return "user_unavailable";
        case DisconnectReason::UserRejected:
            return "user_rejected";
    }
    return "other";
}

std::string_view toString(RequestReason r) {
    switch (r) {
        case RequestReason::Ok:
            return "ok";
        case RequestReason::NotFound:
            return "not_found";
        case RequestReason::NotAllowed:
            return "not_allowed";
        case RequestReason::LimitExceeded:
            return "limit_exceeded";
        case RequestReason::Queued:
            return "queued";
        case RequestReason::UnsupportedType:
            return "unsupported_type";
        case RequestReason::UnclassifiedError:
            return "unclassified_error";
    }
    return "other";
}

std::string_view toString(TrackType t) {
    switch (t) {
        case TrackType::Audio:
            return "audio";
        case TrackType::Video:
            return "video";
        case TrackType::Data:
            return "data";
    }
    return "other";
}

}  // namespace mxrtc::livekit

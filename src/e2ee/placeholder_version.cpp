// The e2ee module's sources live beside this file; this one only anchors the library target.
namespace mxrtc::e2ee {
const char* moduleName() {
    return "e2ee";
}
}  // namespace mxrtc::e2ee

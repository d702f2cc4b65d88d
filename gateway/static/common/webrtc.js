/*
 * Beijing 12345 hotline - the WebRTC helpers of both ends of a sign-language video session:
 * the citizen's page (/video, channels/video/static/video.js) and the agent desk's video panel
 * (channels/video/static/desk.js). Served at /static/common/webrtc.js.
 *
 * One RTCPeerConnection to the gateway, the offer sent with all ICE candidates (no trickle);
 * the camera within the service's limits (GET /api/v1/video/config: max_width, max_height,
 * max_framerate, max_bitrate_kbps, ice_servers).
 */

export const ICE_GATHER_MS = 5000;

/** getUserMedia video constraints within the limits of the video config. */
export function videoConstraints(cfg) {
  return {
    width: { ideal: cfg.max_width, max: cfg.max_width },
    height: { ideal: cfg.max_height, max: cfg.max_height },
    frameRate: { ideal: cfg.max_framerate, max: cfg.max_framerate }
  };
}

/**
 * Camera and microphone. With `videoOnly` as a fallback, a device whose microphone fails
 * still gets a video-only stream.
 */
export function openCamera(cfg, opts) {
  const video = videoConstraints(cfg);
  const media = navigator.mediaDevices.getUserMedia({ video: video, audio: true });
  if (!(opts && opts.videoOnlyFallback)) return media;
  return media.catch(function () {
    return navigator.mediaDevices.getUserMedia({ video: video, audio: false });
  });
}

/** Resolves once ICE gathering is complete, or after timeoutMs (ICE_GATHER_MS) at the latest. */
export function iceGathered(pc, timeoutMs) {
  return new Promise(function (resolve) {
    if (pc.iceGatheringState === 'complete') { resolve(); return; }
    const timer = setTimeout(resolve, timeoutMs || ICE_GATHER_MS);
    pc.addEventListener('icegatheringstatechange', function () {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });
}

/**
 * A peer connection sending `stream` (and receiving audio even without a microphone), whose
 * incoming tracks play in the <video> element `remoteVideo`.
 */
export function createPeer(stream, iceServers, remoteVideo) {
  const pc = new RTCPeerConnection({ iceServers: iceServers || [] });
  stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
  if (!stream.getAudioTracks().length) pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.ontrack = function (ev) {
    if (!remoteVideo.srcObject) remoteVideo.srcObject = new MediaStream();
    remoteVideo.srcObject.addTrack(ev.track);
  };
  return pc;
}

/** Creates the offer and waits for the ICE candidates; resolves with the complete offer SDP. */
export function offerWithCandidates(pc) {
  return pc.createOffer()
    .then(function (offer) { return pc.setLocalDescription(offer); })
    .then(function () { return iceGathered(pc); })
    .then(function () { return pc.localDescription.sdp; });
}

/** Caps the video sender's bitrate (the answer's b=AS bounds it too). */
export function limitBitrate(pc, kbps) {
  pc.getSenders().forEach(function (sender) {
    if (!sender.track || sender.track.kind !== 'video' || !sender.getParameters) return;
    const p = sender.getParameters();
    if (!p.encodings || !p.encodings.length) p.encodings = [{}];
    p.encodings[0].maxBitrate = kbps * 1000;
    sender.setParameters(p).catch(function () { /* the answer's b=AS bounds it too */ });
  });
}

/** Stops the camera and closes the connection (either may be null). */
export function closeMedia(stream, pc) {
  if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
  if (pc) { try { pc.close(); } catch (e) { /* closed */ } }
}

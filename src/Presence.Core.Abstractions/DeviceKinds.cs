namespace Presence;

/// <summary>
/// Kinds of device, as a client reports them for itself (seed "report per-device type"). A single
/// device has exactly one kind; a <see cref="PresenceSnapshot"/> carries the combination of the kinds
/// of a user's connected devices, so watchers can show "on mobile".
/// </summary>
[Flags]
public enum DeviceKinds : byte
{
    /// <summary>No connected device.</summary>
    None = 0,

    /// <summary>A full-capability client; the kind of a device that reports none.</summary>
    Standard = 1,

    /// <summary>A mobile device.</summary>
    Mobile = 2,

    /// <summary>A web client.</summary>
    Web = 4,

    /// <summary>Another reduced-capability device: a watch, a low-bandwidth or intermittently connected client.</summary>
    Limited = 8,
}

using System.Runtime.InteropServices;

namespace Presence.Internal;

/// <summary>One connected device of a user. Times are <see cref="TimeBase"/> ticks; <see cref="UserTable.NoTime"/> when unknown.</summary>
[StructLayout(LayoutKind.Auto)]
internal struct DeviceSlot
{
    public string Id;
    public long LastSync;
    public long LastActivity;
    public PresenceState Requested;
    public DeviceKinds Kind;
    public bool Idle;
}

/// <summary>
/// Everything the engine holds about one user, stored inline in <see cref="UserTable"/>'s array so that a
/// tracked user costs one array element and one dictionary entry. The first device is inline; a user with
/// more devices gets an overflow array.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct UserSlot
{
    public UserId User;
    public string? StatusMessage;

    /// <summary>The most recent activity of devices no longer connected (or loaded from the store).</summary>
    public long LastActive;

    /// <summary>The last-active time last published.</summary>
    public long PublishedLastActive;

    /// <summary>The last-active time last handed to the store.</summary>
    public long SavedLastActive;

    /// <summary>The earliest deadline queued for this user, never later than its true next deadline.</summary>
    public long ScheduledDue;

    public DeviceSlot Device0;
    public DeviceSlot[]? MoreDevices;
    public byte DeviceCount;
    public PresenceState Requested;
    public PresenceState PublishedState;
    public DeviceKinds PublishedKinds;
    public bool PublishedActive;
    public bool Dirty;

    /// <summary>A user of another server: its presence is what that server pushed, held as the Published* fields.</summary>
    public bool Remote;

    /// <summary>Who may see the (local) user's presence.</summary>
    public PresenceVisibility Visibility;

    /// <summary>A local user whose stored record is being read: nothing is published for them until it is merged.</summary>
    public bool Loading;

    /// <summary>The user set their presence explicitly while their record was loading: the stored state and status do not apply.</summary>
    public bool SetWhileLoading;

    /// <summary>The user chose a visibility while their record was loading: the stored one does not apply.</summary>
    public bool VisibilityWhileLoading;

    /// <summary>A record of the user is being written: the user stays in memory until the write ends (it may fail and be retried).</summary>
    public bool Saving;

    /// <summary>For a remote user: when the pushed presence goes stale (<see cref="UserTable.NoDeadline"/> when it does not).</summary>
    public readonly long RemoteExpiry => SavedLastActive;

    /// <summary>
    /// For a remote user: the highest ordering key (<see cref="PresenceMessage.Sequence"/>) its server's pushes carried, 0 when
    /// none did; a push with a lower key is older and not applied. Held in the unused first device (remote users have none).
    /// </summary>
    public long RemoteSequence
    {
        readonly get => Device0.LastActivity;
        set => Device0.LastActivity = value;
    }

    /// <summary>
    /// Since when a user without devices has been left alone (held in the unused first device's sync time, so it costs no
    /// memory): the engine forgets such a user after the eviction time, if nobody needs them.
    /// </summary>
    public long QuietSince
    {
        readonly get => Device0.LastSync;
        set => Device0.LastSync = value;
    }
}

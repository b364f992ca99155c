namespace Presence.Internal;

/// <summary>Device signals and explicit settings from the host's client API.</summary>
internal sealed partial class DefaultPresenceEngine
{
    private const int MaxDeviceIdLength = 255;
    private static readonly TimeSpan MaxIdleReport = TimeSpan.FromDays(365);

    public void Heartbeat(UserId user, string deviceId, PresenceState? setPresence = null) => Sync(user, deviceId, setPresence, open: false);

    /// <summary>A sync, or the start of one (<paramref name="open"/>); returns the user's hash.</summary>
    private int Sync(UserId user, string deviceId, PresenceState? setPresence, bool open)
    {
        ValidateDevice(user, deviceId);
        if (setPresence is { } state)
        {
            ValidateSettable(state, nameof(setPresence));
        }

        var shard = ShardOf(user, out int hash);
        long next;
        lock (shard.Gate)
        {
            ThrowIfNotRunning();
            long now = shard.Now(_time);
            if (!(open ? shard.Table.OpenSync(user, hash, deviceId, setPresence, now) : shard.Table.Heartbeat(user, hash, deviceId, setPresence, now)))
            {
                return hash; // only the sync time moved later: no deadline came earlier, nothing was published
            }

            next = shard.Table.NextDeadline;
        }

        AfterShardInput(shard, next);
        return hash;
    }

    public void ReportActivity(UserId user, string deviceId)
    {
        ValidateDevice(user, deviceId);
        OnShard(user, deviceId, static (table, user, device, now) => table.Activity(user, device, now));
    }

    public void ReportIdle(UserId user, string deviceId, TimeSpan idleFor)
    {
        ValidateDevice(user, deviceId);
        if (idleFor < TimeSpan.Zero || idleFor > MaxIdleReport)
        {
            Reject("bad_idle", "an idle duration out of range");
            throw new PresenceException(PresenceErrorCodes.InvalidParam, $"An idle duration must be between zero and {MaxIdleReport.TotalDays} days; {idleFor} is not.");
        }

        long idleTicks = _timeBase.ToTicks(idleFor);
        OnShard(user, (deviceId, idleTicks), static (table, user, input, now) => table.Idle(user, input.deviceId, input.idleTicks, now));
    }

    public void CancelIdle(UserId user, string deviceId) => ReportActivity(user, deviceId);

    public void SetDeviceKind(UserId user, string deviceId, DeviceKinds kind)
    {
        ValidateDevice(user, deviceId);
        if (kind is not (DeviceKinds.Standard or DeviceKinds.Mobile or DeviceKinds.Web or DeviceKinds.Limited))
        {
            Reject("bad_device_kind", "a device kind that is not exactly one kind");
            throw new PresenceException(PresenceErrorCodes.InvalidParam, $"A device has exactly one kind: Standard, Mobile, Web or Limited; {kind} is not.");
        }

        OnShard(user, (deviceId, kind), static (table, user, input, now) => table.SetKind(user, input.deviceId, input.kind, now));
    }

    public void Disconnect(UserId user, string deviceId)
    {
        ValidateDevice(user, deviceId);
        OnShard(user, deviceId, static (table, user, device, now) => table.Disconnect(user, device, now));
    }

    public PresenceSnapshot SetPresence(UserId user, string deviceId, PresenceState state, string? statusMessage)
    {
        ValidateDevice(user, deviceId);
        ValidateSettable(state, nameof(state));
        if (statusMessage is not null && statusMessage.Length > _options.MaxStatusMessageLength)
        {
            Reject("status_too_long", "a status message over the length limit");
            throw new PresenceException(
                PresenceErrorCodes.InvalidParam,
                $"The status message is {statusMessage.Length} characters long; at most {_options.MaxStatusMessageLength} are allowed (PresenceOptions.MaxStatusMessageLength).");
        }

        PresenceSnapshot result;
        var shard = ShardOf(user);
        long next;
        lock (shard.Gate)
        {
            ThrowIfNotRunning();
            long now = shard.Now(_time);
            shard.Table.SetPresence(user, deviceId, state, string.IsNullOrEmpty(statusMessage) ? null : statusMessage, now);
            shard.Table.TryFind(user, out int index);
            result = shard.Table.Read(index, now);
            next = shard.Table.NextDeadline;
        }

        AfterShardInput(shard, next);
        return result;
    }

    private void ValidateDevice(UserId user, string deviceId)
    {
        if (user.IsEmpty)
        {
            Reject("empty_user", "an empty user ID");
            throw new PresenceException(PresenceErrorCodes.InvalidParam, "A user ID is required.");
        }

        if (!user.IsOn(_server))
        {
            Reject("foreign_user", "a device signal for a user of another server");
            throw new PresenceException(PresenceErrorCodes.Forbidden, $"The user {user} is not a user of this server ({_server}); only local users' presence can be set here.");
        }

        if (string.IsNullOrEmpty(deviceId) || deviceId.Length > MaxDeviceIdLength)
        {
            Reject("bad_device_id", "a missing or over-long device ID");
            ArgumentNullException.ThrowIfNull(deviceId);
            throw new PresenceException(PresenceErrorCodes.InvalidParam, $"A device ID must be 1 to {MaxDeviceIdLength} characters long.");
        }
    }

    private void ValidateSettable(PresenceState state, string parameterName)
    {
        switch (state)
        {
            case PresenceState.Online or PresenceState.Unavailable or PresenceState.Offline:
                return;
            case PresenceState.Busy when _options.EnableBusy:
                return;
            case PresenceState.Busy:
                Reject("busy_disabled", "busy presence while it is disabled");
                throw new PresenceException(PresenceErrorCodes.InvalidParam, $"Busy presence is not enabled on this server (PresenceOptions.EnableBusy); {parameterName} cannot be busy.");
            default:
                Reject("bad_state", "a state that cannot be set");
                throw new PresenceException(PresenceErrorCodes.InvalidParam, $"The state {state} cannot be set ({parameterName}); use online, unavailable or offline.");
        }
    }
}

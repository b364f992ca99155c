namespace Presence;

/// <summary>
/// What a store keeps of one user's presence so an engine restarted on the same store recovers it:
/// the state the user last asked for, the status message and the last-active time. Devices and
/// timers are not persisted; they belong to live connections.
/// </summary>
public sealed class PresenceRecord
{
    /// <summary>Creates a record.</summary>
    /// <param name="user">The user.</param>
    /// <param name="requestedState">The state the user last set explicitly (used when a device connects).</param>
    /// <param name="statusMessage">The status message, if any.</param>
    /// <param name="lastActive">When the user was last active, if known.</param>
    /// <param name="visibility">Who may see the user's presence.</param>
    /// <exception cref="ArgumentException"><paramref name="user"/> is empty or <paramref name="requestedState"/> is <see cref="PresenceState.Unknown"/>.</exception>
    public PresenceRecord(UserId user, PresenceState requestedState, string? statusMessage, DateTimeOffset? lastActive, PresenceVisibility visibility = PresenceVisibility.RoomMembers)
    {
        if (user.IsEmpty)
        {
            throw new ArgumentException("A user ID is required.", nameof(user));
        }

        if (requestedState is < PresenceState.Offline or > PresenceState.Busy)
        {
            throw new ArgumentException($"A record holds a known state; {requestedState} is not one.", nameof(requestedState));
        }

        User = user;
        RequestedState = requestedState;
        StatusMessage = string.IsNullOrEmpty(statusMessage) ? null : statusMessage;
        LastActive = lastActive;
        Visibility = visibility is PresenceVisibility.RoomMembers or PresenceVisibility.PresenceListOnly or PresenceVisibility.Nobody
            ? visibility
            : throw new ArgumentException($"{visibility} is not a visibility.", nameof(visibility));
    }

    /// <summary>Gets the user.</summary>
    public UserId User { get; }

    /// <summary>Gets the state the user last set explicitly.</summary>
    public PresenceState RequestedState { get; }

    /// <summary>Gets the status message, or <see langword="null"/>.</summary>
    public string? StatusMessage { get; }

    /// <summary>Gets when the user was last active, or <see langword="null"/>.</summary>
    public DateTimeOffset? LastActive { get; }

    /// <summary>Gets who may see the user's presence.</summary>
    public PresenceVisibility Visibility { get; }
}

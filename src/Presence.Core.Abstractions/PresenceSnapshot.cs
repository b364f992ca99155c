namespace Presence;

/// <summary>
/// An immutable view of one user's presence at the moment it was taken. <c>last_active_ago</c> is not
/// stored: compute it when reading or serializing with <see cref="GetLastActiveAgo(DateTimeOffset)"/>.
/// </summary>
public sealed class PresenceSnapshot
{
    /// <summary>Creates a snapshot.</summary>
    /// <param name="user">The user.</param>
    /// <param name="state">The aggregated state.</param>
    /// <param name="statusMessage">The status message; empty is treated as none.</param>
    /// <param name="lastActive">When the user was last active, if known.</param>
    /// <param name="currentlyActive">Whether the user counts as currently active; kept only for <see cref="PresenceState.Online"/>.</param>
    /// <param name="deviceKinds">The kinds of the user's connected devices.</param>
    /// <exception cref="ArgumentException"><paramref name="user"/> is empty.</exception>
    public PresenceSnapshot(UserId user, PresenceState state, string? statusMessage, DateTimeOffset? lastActive, bool currentlyActive, DeviceKinds deviceKinds)
    {
        if (user.IsEmpty)
        {
            throw new ArgumentException("A user ID is required.", nameof(user));
        }

        User = user;
        State = state;
        StatusMessage = string.IsNullOrEmpty(statusMessage) ? null : statusMessage;
        LastActive = lastActive;
        CurrentlyActive = currentlyActive && state == PresenceState.Online;
        DeviceKinds = deviceKinds;
    }

    /// <summary>Gets the user.</summary>
    public UserId User { get; }

    /// <summary>Gets the aggregated state; <see cref="PresenceState.Unknown"/> when no information is held.</summary>
    public PresenceState State { get; }

    /// <summary>Gets the status message, or <see langword="null"/> when there is none.</summary>
    public string? StatusMessage { get; }

    /// <summary>Gets when the user was last active (a pro-active event), or <see langword="null"/> when not known.</summary>
    public DateTimeOffset? LastActive { get; }

    /// <summary>Gets whether the user counts as currently active. Always <see langword="false"/> unless <see cref="State"/> is <see cref="PresenceState.Online"/>.</summary>
    public bool CurrentlyActive { get; }

    /// <summary>Gets the kinds of the user's connected devices (for example <see cref="DeviceKinds.Mobile"/>).</summary>
    public DeviceKinds DeviceKinds { get; }

    /// <summary>
    /// The engine's publication order (0 for snapshots made elsewhere): when two snapshots of one user meet in a
    /// queue, the higher sequence is the newer state, whatever order the threads that carry them arrive in.
    /// </summary>
    internal long Sequence { get; init; }

    /// <summary>
    /// How soon other servers must hear of this change, decided once where the publication is made (the engine's
    /// publication rules) and carried with it; <see cref="PresenceUrgency.Prompt"/> for snapshots made elsewhere.
    /// </summary>
    internal PresenceUrgency Urgency { get; init; }

    /// <summary>Gets a value indicating whether no information is held about the user.</summary>
    public bool IsUnknown => State == PresenceState.Unknown;

    /// <summary>Creates the snapshot of a user about whom nothing is known.</summary>
    /// <param name="user">The user.</param>
    /// <returns>A snapshot in state <see cref="PresenceState.Unknown"/>.</returns>
    public static PresenceSnapshot Unknown(UserId user) => new(user, PresenceState.Unknown, null, null, false, DeviceKinds.None);

    /// <summary>Computes <c>last_active_ago</c>: how long before <paramref name="now"/> the user was last active.</summary>
    /// <param name="now">The current time, normally <see cref="TimeProvider.GetUtcNow"/>.</param>
    /// <returns>The elapsed time (never negative), or <see langword="null"/> when the last-active time is not known.</returns>
    public TimeSpan? GetLastActiveAgo(DateTimeOffset now)
    {
        if (LastActive is not { } lastActive)
        {
            return null;
        }

        var ago = now - lastActive;
        return ago < TimeSpan.Zero ? TimeSpan.Zero : ago;
    }

    /// <summary>Returns a short description for diagnostics; the status message is left out.</summary>
    /// <returns>The user and state.</returns>
    public override string ToString() => $"{User} {State}{(CurrentlyActive ? " (active)" : string.Empty)}";
}

/// <summary>How soon other servers must hear of a published change.</summary>
internal enum PresenceUrgency : byte
{
    /// <summary>State, status message or device kinds changed: sent within the batch window.</summary>
    Prompt = 0,

    /// <summary>Last-active moved (including becoming currently active): sent within the lazy window, or earlier with anything else.</summary>
    Lazy = 1,

    /// <summary>
    /// Only <c>currently_active</c> fell back to false as time passed: a peer that speaks this protocol derives it from the
    /// last-active time and is never sent it; other peers get it lazily.
    /// </summary>
    Derivable = 2,
}

namespace Presence;

/// <summary>
/// The answer to "may this viewer see that user's presence, and what is it?". Either
/// <see cref="IsAllowed"/> with a <see cref="Presence"/> (whose state may be <see cref="PresenceState.Unknown"/>),
/// or not allowed, with nothing to read.
/// </summary>
public readonly struct PresenceReadResult
{
    private readonly PresenceSnapshot? _presence;

    private PresenceReadResult(PresenceSnapshot? presence) => _presence = presence;

    /// <summary>Gets the result for a viewer who may not see the target.</summary>
    public static PresenceReadResult NotAllowed => default;

    /// <summary>Gets a value indicating whether the viewer may see the target's presence.</summary>
    public bool IsAllowed => _presence is not null;

    /// <summary>Gets the target's presence.</summary>
    /// <exception cref="InvalidOperationException">The viewer may not see the target (<see cref="IsAllowed"/> is <see langword="false"/>).</exception>
    public PresenceSnapshot Presence => _presence ?? throw new InvalidOperationException("The viewer is not allowed to see this user's presence; check IsAllowed first.");

    /// <summary>Creates an allowed result.</summary>
    /// <param name="presence">The target's presence.</param>
    /// <returns>The result.</returns>
    public static PresenceReadResult Allowed(PresenceSnapshot presence)
    {
        ArgumentNullException.ThrowIfNull(presence);
        return new PresenceReadResult(presence);
    }
}

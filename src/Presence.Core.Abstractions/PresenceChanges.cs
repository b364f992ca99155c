namespace Presence;

/// <summary>
/// An answer from the presence stream: the latest presence of each user the viewer may see that changed after the token
/// asked with, and the token to ask with next time. Each user appears at most once.
/// </summary>
public sealed class PresenceChanges
{
    /// <summary>Creates an answer.</summary>
    /// <param name="changes">The users' latest presence.</param>
    /// <param name="nextToken">The token for the next request.</param>
    /// <param name="isSnapshot">Whether this is a full snapshot rather than changes since the token.</param>
    /// <param name="limited">Whether more changes are owed beyond the limit (ask again with <paramref name="nextToken"/>).</param>
    public PresenceChanges(IReadOnlyList<PresenceSnapshot> changes, PresenceStreamToken nextToken, bool isSnapshot, bool limited)
    {
        ArgumentNullException.ThrowIfNull(changes);
        Changes = changes;
        NextToken = nextToken;
        IsSnapshot = isSnapshot;
        Limited = limited;
    }

    /// <summary>Gets the users' latest presence. A user the viewer can no longer see, or whose information went stale, appears as <see cref="PresenceState.Unknown"/> (a Matrix client is sent <c>offline</c> with the unknown marker).</summary>
    public IReadOnlyList<PresenceSnapshot> Changes { get; }

    /// <summary>Gets the token to ask with next time.</summary>
    public PresenceStreamToken NextToken { get; }

    /// <summary>Gets a value indicating whether this is a full snapshot of what the viewer may see (the token was <see cref="PresenceStreamToken.None"/>, from before a restart, or older than the retained window) rather than changes since the token.</summary>
    public bool IsSnapshot { get; }

    /// <summary>Gets a value indicating whether the limit cut the answer short: ask again with <see cref="NextToken"/> for the rest.</summary>
    public bool Limited { get; }
}

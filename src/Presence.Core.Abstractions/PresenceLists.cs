namespace Presence;

/// <summary>Who may see a user's presence; each user chooses. The user always sees themselves.</summary>
public enum PresenceVisibility : byte
{
    /// <summary>Everyone sharing a room with the user, and the user's accepted presence-list observers (the default).</summary>
    RoomMembers = 0,

    /// <summary>Only users whose request to add this user to their presence list was accepted.</summary>
    PresenceListOnly = 1,

    /// <summary>Nobody.</summary>
    Nobody = 2,
}

/// <summary>Where a presence-list request stands.</summary>
public enum PresenceListState : byte
{
    /// <summary>Asked; the observed user has not answered.</summary>
    Pending = 0,

    /// <summary>The observed user allowed it.</summary>
    Allowed = 1,

    /// <summary>The observed user refused it.</summary>
    Denied = 2,
}

/// <summary>One presence-list relation: <see cref="Observer"/> wants to see <see cref="Observed"/>. User data: it is persisted.</summary>
public sealed class PresenceListEntry
{
    /// <summary>Creates an entry.</summary>
    /// <param name="observer">The user who asked to see.</param>
    /// <param name="observed">The user to be seen.</param>
    /// <param name="state">Where the request stands.</param>
    /// <exception cref="ArgumentException">A user is empty, both are the same user, or the state is not defined.</exception>
    public PresenceListEntry(UserId observer, UserId observed, PresenceListState state)
    {
        if (observer.IsEmpty || observed.IsEmpty)
        {
            throw new ArgumentException("Both users are required.", observer.IsEmpty ? nameof(observer) : nameof(observed));
        }

        if (observer == observed)
        {
            throw new ArgumentException("A user cannot be on their own presence list.", nameof(observed));
        }

        if (state is not (PresenceListState.Pending or PresenceListState.Allowed or PresenceListState.Denied))
        {
            throw new ArgumentException($"{state} is not a presence-list state.", nameof(state));
        }

        Observer = observer;
        Observed = observed;
        State = state;
    }

    /// <summary>Gets the user who asked to see.</summary>
    public UserId Observer { get; }

    /// <summary>Gets the user to be seen.</summary>
    public UserId Observed { get; }

    /// <summary>Gets where the request stands.</summary>
    public PresenceListState State { get; }
}

/// <summary>An entry of a user's presence list with the presence it may show.</summary>
public sealed class PresenceListItem
{
    /// <summary>Creates an item.</summary>
    /// <param name="entry">The relation.</param>
    /// <param name="presence">The observed user's presence: current when allowed, otherwise unknown.</param>
    public PresenceListItem(PresenceListEntry entry, PresenceSnapshot presence)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(presence);
        Entry = entry;
        Presence = presence;
    }

    /// <summary>Gets the relation.</summary>
    public PresenceListEntry Entry { get; }

    /// <summary>Gets the observed user's presence: current when allowed and known; <see cref="PresenceState.Unknown"/> while pending, when denied, or when nothing is held yet ("don't know").</summary>
    public PresenceSnapshot Presence { get; }
}

/// <summary>Where presence lists and their permissions live, so they survive restarts. Written through (awaited), one change at a time.</summary>
public interface IPresenceListStore
{
    /// <summary>Saves a relation, replacing any earlier one of the same pair.</summary>
    /// <param name="entry">The relation.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>A task that completes when the relation is durable.</returns>
    ValueTask SaveAsync(PresenceListEntry entry, CancellationToken cancellationToken);

    /// <summary>Removes a relation; nothing happens when there is none.</summary>
    /// <param name="observer">The observer.</param>
    /// <param name="observed">The observed user.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>A task that completes when the removal is durable.</returns>
    ValueTask RemoveAsync(UserId observer, UserId observed, CancellationToken cancellationToken);

    /// <summary>Reads every relation.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The relations, in any order.</returns>
    IAsyncEnumerable<PresenceListEntry> LoadAllAsync(CancellationToken cancellationToken);
}

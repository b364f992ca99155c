namespace Presence;

/// <summary>
/// A subscription another server holds to one of our users (seed 000): the peer polled the user and we promised to push
/// their changes until <see cref="ExpiresAt"/>. User-visible state: it is persisted so a restarted engine keeps its promises.
/// </summary>
public sealed class PeerSubscription
{
    /// <summary>Creates a subscription.</summary>
    /// <param name="peer">The subscribing server.</param>
    /// <param name="user">The local user it subscribed to.</param>
    /// <param name="expiresAt">When the promise lapses unless renewed.</param>
    /// <exception cref="ArgumentException"><paramref name="peer"/> or <paramref name="user"/> is empty.</exception>
    public PeerSubscription(ServerName peer, UserId user, DateTimeOffset expiresAt)
    {
        if (peer.IsEmpty)
        {
            throw new ArgumentException("The subscribing server is required.", nameof(peer));
        }

        if (user.IsEmpty)
        {
            throw new ArgumentException("The subscribed user is required.", nameof(user));
        }

        Peer = peer;
        User = user;
        ExpiresAt = expiresAt;
    }

    /// <summary>Gets the subscribing server.</summary>
    public ServerName Peer { get; }

    /// <summary>Gets the local user it subscribed to.</summary>
    public UserId User { get; }

    /// <summary>Gets when the promise lapses unless the peer renews it.</summary>
    public DateTimeOffset ExpiresAt { get; }
}

/// <summary>
/// Where the subscriptions other servers hold to our users live, so a restarted engine keeps pushing to them. Written
/// through (awaited) when a peer subscribes or unsubscribes; read whole at start. Implementations must be safe for
/// concurrent calls.
/// </summary>
public interface IPeerSubscriptionStore
{
    /// <summary>Saves subscriptions, replacing any earlier one of the same peer and user.</summary>
    /// <param name="subscriptions">The subscriptions; each (peer, user) pair appears at most once.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>A task that completes when the subscriptions are durable.</returns>
    ValueTask SaveAsync(IReadOnlyList<PeerSubscription> subscriptions, CancellationToken cancellationToken);

    /// <summary>Removes a peer's subscriptions to the given users; users it holds none to are ignored.</summary>
    /// <param name="peer">The subscribing server.</param>
    /// <param name="users">The local users.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>A task that completes when the removal is durable.</returns>
    ValueTask RemoveAsync(ServerName peer, IReadOnlyCollection<UserId> users, CancellationToken cancellationToken);

    /// <summary>Reads every subscription not yet expired at <paramref name="now"/>; a store may delete the expired ones.</summary>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The live subscriptions, in any order.</returns>
    IAsyncEnumerable<PeerSubscription> LoadAllAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

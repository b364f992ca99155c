using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Presence;

/// <summary>The default peer-subscription store: subscriptions in memory, kept for the life of this object. Thread-safe.</summary>
public sealed class InMemoryPeerSubscriptionStore : IPeerSubscriptionStore
{
    private readonly ConcurrentDictionary<(ServerName Peer, UserId User), PeerSubscription> _entries = new();

    /// <summary>Gets the number of stored subscriptions, expired ones included.</summary>
    public int Count => _entries.Count;

    /// <inheritdoc/>
    public ValueTask SaveAsync(IReadOnlyList<PeerSubscription> subscriptions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var subscription in subscriptions)
        {
            ArgumentNullException.ThrowIfNull(subscription, nameof(subscriptions));
            _entries[(subscription.Peer, subscription.User)] = subscription;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask RemoveAsync(ServerName peer, IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var user in users)
        {
            _entries.TryRemove((peer, user), out _);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<PeerSubscription> LoadAllAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var (key, subscription) in _entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (subscription.ExpiresAt > now)
            {
                yield return subscription;
            }
            else
            {
                _entries.TryRemove(new KeyValuePair<(ServerName, UserId), PeerSubscription>(key, subscription));
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}

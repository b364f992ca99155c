namespace Presence.Testing;

/// <summary>
/// What the engine relies on from an <see cref="IPeerSubscriptionStore"/>: saved subscriptions are durable when the call
/// returns, a renewal replaces the expiry, removal takes exactly the pairs named, and a load leaves out promises that have
/// expired. Inherit it in an NUnit test project and implement <see cref="StoreContractTests{TStore}.CreateStoreAsync"/>.
/// </summary>
[CancelAfter(60_000)]
public abstract class PeerSubscriptionStoreContractTests : StoreContractTests<IPeerSubscriptionStore>
{
    private static readonly ServerName Peer = ServerName.Parse("peer.test");
    private static readonly ServerName Other = ServerName.Parse("other.test");

    /// <summary>Saved subscriptions are read back by a reopened store with their expiry.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAsync_ThenReopen_LoadsEverySubscription()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync([new PeerSubscription(Peer, User("alice"), At(60_000)), new PeerSubscription(Peer, User("bob"), At(120_000)), new PeerSubscription(Other, User("alice"), At(30_000))], CancellationToken.None);

        var loaded = await LoadAsync(await ReopenTrackedAsync(store), At(0));

        Assert.That(loaded, Is.EquivalentTo(new[] { (Peer, User("alice"), At(60_000)), (Peer, User("bob"), At(120_000)), (Other, User("alice"), At(30_000)) }));
    }

    /// <summary>A renewal replaces the expiry: one subscription per (peer, user).</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAsync_Renewed_ReplacesExpiry()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync([new PeerSubscription(Peer, User("alice"), At(60_000))], CancellationToken.None);
        await store.SaveAsync([new PeerSubscription(Peer, User("alice"), At(7_200_000))], CancellationToken.None);

        var loaded = await LoadAsync(await ReopenTrackedAsync(store), At(0));

        Assert.That(loaded, Is.EqualTo(new[] { (Peer, User("alice"), At(7_200_000)) }));
    }

    /// <summary>Removal takes the named users of that peer only; unknown users are ignored.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task RemoveAsync_SomeUsers_OnlyThoseOfThatPeerGo()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync([new PeerSubscription(Peer, User("alice"), At(60_000)), new PeerSubscription(Peer, User("bob"), At(60_000)), new PeerSubscription(Other, User("alice"), At(60_000))], CancellationToken.None);

        await store.RemoveAsync(Peer, [User("alice"), User("nobody")], CancellationToken.None);
        await store.RemoveAsync(Peer, [], CancellationToken.None);
        var loaded = await LoadAsync(await ReopenTrackedAsync(store), At(0));

        Assert.That(loaded, Is.EquivalentTo(new[] { (Peer, User("bob"), At(60_000)), (Other, User("alice"), At(60_000)) }));
    }

    /// <summary>A promise that has expired by the load's time is left out.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task LoadAllAsync_Expired_LeftOut()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync([new PeerSubscription(Peer, User("alice"), At(10_000)), new PeerSubscription(Peer, User("bob"), At(20_000))], CancellationToken.None);

        var loaded = await LoadAsync(await ReopenTrackedAsync(store), At(10_000));

        Assert.That(loaded, Is.EqualTo(new[] { (Peer, User("bob"), At(20_000)) }));
    }

    private static async Task<List<(ServerName, UserId, DateTimeOffset)>> LoadAsync(IPeerSubscriptionStore store, DateTimeOffset now)
    {
        var found = new List<(ServerName, UserId, DateTimeOffset)>();
        await foreach (var subscription in store.LoadAllAsync(now, CancellationToken.None))
        {
            found.Add((subscription.Peer, subscription.User, subscription.ExpiresAt));
        }

        return found;
    }
}

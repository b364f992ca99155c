namespace Presence.Testing;

/// <summary>
/// What the engine relies on from an <see cref="IPresenceListStore"/>: a saved relation is durable when the call returns, a
/// pair has one state (the last saved), removal is durable and removing nothing is harmless. Inherit it in an NUnit test
/// project and implement <see cref="StoreContractTests{TStore}.CreateStoreAsync"/>.
/// </summary>
[CancelAfter(60_000)]
public abstract class PresenceListStoreContractTests : StoreContractTests<IPresenceListStore>
{
    /// <summary>Saved relations are read back by a reopened store, each with its state.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAsync_ThenReopen_LoadsEveryRelation()
    {
        var store = await NewStoreAsync();
        var entries = new[]
        {
            new PresenceListEntry(User("alice"), User("bob"), PresenceListState.Pending),
            new PresenceListEntry(User("bob"), User("alice"), PresenceListState.Allowed),
            new PresenceListEntry(User("carol"), UserId.Parse("@dave:remote.test"), PresenceListState.Denied),
        };
        foreach (var entry in entries)
        {
            await store.SaveAsync(entry, CancellationToken.None);
        }

        var loaded = await LoadAsync(await ReopenTrackedAsync(store));

        Assert.That(loaded, Is.EquivalentTo(entries.Select(static e => (e.Observer, e.Observed, e.State))));
    }

    /// <summary>Saving a pair again replaces its state: one relation per pair.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAsync_SamePairAgain_ReplacesState()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync(new PresenceListEntry(User("alice"), User("bob"), PresenceListState.Pending), CancellationToken.None);
        await store.SaveAsync(new PresenceListEntry(User("alice"), User("bob"), PresenceListState.Allowed), CancellationToken.None);

        var loaded = await LoadAsync(await ReopenTrackedAsync(store));

        Assert.That(loaded, Is.EqualTo(new[] { (User("alice"), User("bob"), PresenceListState.Allowed) }));
    }

    /// <summary>A removed relation is gone after a reopen; the other direction and other pairs stay; removing a missing pair does nothing.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task RemoveAsync_OnePair_OnlyThatPairGoes()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync(new PresenceListEntry(User("alice"), User("bob"), PresenceListState.Allowed), CancellationToken.None);
        await store.SaveAsync(new PresenceListEntry(User("bob"), User("alice"), PresenceListState.Allowed), CancellationToken.None);
        await store.SaveAsync(new PresenceListEntry(User("alice"), User("carol"), PresenceListState.Pending), CancellationToken.None);

        await store.RemoveAsync(User("alice"), User("bob"), CancellationToken.None);
        await store.RemoveAsync(User("alice"), User("nobody"), CancellationToken.None);
        var loaded = await LoadAsync(await ReopenTrackedAsync(store));

        Assert.That(loaded, Is.EquivalentTo(new[] { (User("bob"), User("alice"), PresenceListState.Allowed), (User("alice"), User("carol"), PresenceListState.Pending) }));
    }

    /// <summary>An empty store loads nothing.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task LoadAllAsync_Empty_ReturnsNothing()
    {
        var store = await NewStoreAsync();

        Assert.That(await LoadAsync(store), Is.Empty);
    }

    private static async Task<List<(UserId, UserId, PresenceListState)>> LoadAsync(IPresenceListStore store)
    {
        var found = new List<(UserId, UserId, PresenceListState)>();
        await foreach (var entry in store.LoadAllAsync(CancellationToken.None))
        {
            found.Add((entry.Observer, entry.Observed, entry.State));
        }

        return found;
    }
}

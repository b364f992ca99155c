namespace Presence.Testing;

/// <summary>
/// The shared part of the store contract fixtures: creates stores through the derived fixture and disposes them after each
/// test. "Reopen" means a new instance over the same data (a restarted process); stores without one return the same instance.
/// </summary>
/// <typeparam name="TStore">The contract under test.</typeparam>
public abstract class StoreContractTests<TStore>
    where TStore : class
{
    private readonly List<object> _created = [];

    /// <summary>Creates an empty store (a fresh database, schema or instance).</summary>
    /// <returns>The store.</returns>
    protected abstract ValueTask<TStore> CreateStoreAsync();

    /// <summary>Opens the data of <paramref name="store"/> again, as a restarted process would; the default returns the same instance.</summary>
    /// <param name="store">A store <see cref="CreateStoreAsync"/> made.</param>
    /// <returns>A store over the same data.</returns>
    protected virtual ValueTask<TStore> ReopenAsync(TStore store) => ValueTask.FromResult(store);

    /// <summary>Creates an empty store and remembers it for disposal.</summary>
    /// <returns>The store.</returns>
    protected async ValueTask<TStore> NewStoreAsync() => Track(await CreateStoreAsync().ConfigureAwait(false));

    /// <summary>Reopens a store and remembers the new instance for disposal.</summary>
    /// <param name="store">The store.</param>
    /// <returns>A store over the same data.</returns>
    protected async ValueTask<TStore> ReopenTrackedAsync(TStore store) => Track(await ReopenAsync(store).ConfigureAwait(false));

    /// <summary>Disposes every store the test made (those that are disposable), newest first.</summary>
    /// <returns>A task that completes when they are disposed.</returns>
    [TearDown]
    public async Task DisposeStoresAsync()
    {
        for (int i = _created.Count - 1; i >= 0; i--)
        {
            switch (_created[i])
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }

        _created.Clear();
    }

    /// <summary>A user of a test server.</summary>
    /// <param name="localpart">The localpart.</param>
    /// <returns>The user.</returns>
    protected static UserId User(string localpart) => UserId.Parse($"@{localpart}:contract.test");

    /// <summary>A time at millisecond precision (every store keeps at least that).</summary>
    /// <param name="offsetMilliseconds">Milliseconds after 2026-01-02 03:04:05.678 UTC.</param>
    /// <returns>The time.</returns>
    protected static DateTimeOffset At(long offsetMilliseconds) => new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero).AddMilliseconds(offsetMilliseconds);

    private TStore Track(TStore store)
    {
        if (!_created.Contains(store))
        {
            _created.Add(store);
        }

        return store;
    }
}

using Presence.Testing;

namespace Presence.Core.Tests.Stores;

/// <summary>The in-memory presence store passes the store contract every store must.</summary>
[TestFixture]
public sealed class InMemoryPresenceStoreContractTests : PresenceStoreContractTests
{
    protected override ValueTask<IPresenceStore> CreateStoreAsync() => ValueTask.FromResult<IPresenceStore>(new InMemoryPresenceStore());
}

/// <summary>The in-memory presence-list store passes the list-store contract.</summary>
[TestFixture]
public sealed class InMemoryPresenceListStoreContractTests : PresenceListStoreContractTests
{
    protected override ValueTask<IPresenceListStore> CreateStoreAsync() => ValueTask.FromResult<IPresenceListStore>(new InMemoryPresenceListStore());
}

/// <summary>The in-memory peer-subscription store passes the peer-subscription contract.</summary>
[TestFixture]
public sealed class InMemoryPeerSubscriptionStoreContractTests : PeerSubscriptionStoreContractTests
{
    protected override ValueTask<IPeerSubscriptionStore> CreateStoreAsync() => ValueTask.FromResult<IPeerSubscriptionStore>(new InMemoryPeerSubscriptionStore());
}

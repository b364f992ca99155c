namespace Presence.Core.Tests;

public sealed class PresenceOptionsTests
{
    private static IEnumerable<TestCaseData> InvalidOptions()
    {
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.ServerName = default), "PresenceOptions.ServerName").SetName("ServerName unset");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.IdleTimeout = TimeSpan.Zero), "PresenceOptions.IdleTimeout").SetName("IdleTimeout zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.IdleTimeout = TimeSpan.FromSeconds(60)), "must be longer than PresenceOptions.LastActiveGranularity").SetName("IdleTimeout not above granularity");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.SyncTimeout = TimeSpan.FromSeconds(-1)), "PresenceOptions.SyncTimeout").SetName("SyncTimeout negative");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.BusyTimeout = TimeSpan.FromSeconds(10)), "PresenceOptions.BusyTimeout").SetName("BusyTimeout below SyncTimeout");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.LastActiveGranularity = TimeSpan.Zero), "PresenceOptions.LastActiveGranularity").SetName("Granularity zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.ClientBatchWindow = TimeSpan.FromSeconds(61)), "PresenceOptions.ClientBatchWindow").SetName("Window above a minute");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.ClientBatchWindow = TimeSpan.FromSeconds(-1)), "PresenceOptions.ClientBatchWindow").SetName("Window negative");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.MaxStatusMessageLength = 0), "PresenceOptions.MaxStatusMessageLength").SetName("Status length zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.MaxDevicesPerUser = 256), "PresenceOptions.MaxDevicesPerUser").SetName("Devices above 255");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.MembershipCacheCapacity = 0), "PresenceOptions.MembershipCacheCapacity").SetName("Cache capacity zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.ShutdownTimeout = TimeSpan.Zero), "PresenceOptions.ShutdownTimeout").SetName("Shutdown timeout zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.EvictAfter = TimeSpan.Zero), "PresenceOptions.EvictAfter").SetName("Evict-after zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.ShardCount = -1), "PresenceOptions.ShardCount").SetName("Shard count negative");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.ShardCount = PresenceOptions.MaxShardCount + 1), "PresenceOptions.ShardCount").SetName("Shard count above the maximum");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.BatchWindow = TimeSpan.FromSeconds(5)), "PresenceOptions.Federation.BatchWindow").SetName("Federation window below 10 s");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.BatchWindow = TimeSpan.FromMinutes(2)), "PresenceOptions.Federation.BatchWindow").SetName("Federation window above a minute");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.MaxEntriesPerMessage = 0), "PresenceOptions.Federation.MaxEntriesPerMessage").SetName("Entries per message zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.RetryMaxDelay = TimeSpan.FromMilliseconds(10)), "PresenceOptions.Federation.RetryMaxDelay").SetName("Retry max below initial");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.LongWatchdog = TimeSpan.FromSeconds(30)), "PresenceOptions.Federation.LongWatchdog").SetName("Long watchdog not above short");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.FailureHorizon = TimeSpan.FromMinutes(1)), "PresenceOptions.Federation.FailureHorizon").SetName("Horizon below retry max");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.RemoteStaleAfter = TimeSpan.Zero), "PresenceOptions.Federation.RemoteStaleAfter").SetName("Stale-after zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.MaxSubscriptionsPerPeer = 0), "PresenceOptions.Federation.MaxSubscriptionsPerPeer").SetName("Subscriptions per peer zero");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.MaxEntriesPerMessage = 1001), "PresenceOptions.Federation.MaxEntriesPerMessage").SetName("Entries per message above what a receiver reads");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.LazyWindow = TimeSpan.FromSeconds(5)), "PresenceOptions.Federation.LazyWindow").SetName("Lazy window below the batch window");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.SpecPeerRefreshInterval = TimeSpan.FromMinutes(30)), "PresenceOptions.Federation.SpecPeerRefreshInterval").SetName("Refresh interval at the peers' expiry");
        yield return new TestCaseData((Action<PresenceOptions>)(o => o.Federation.MaxMembershipLookupsPerMessage = -1), "PresenceOptions.Federation.MaxMembershipLookupsPerMessage").SetName("Lookup budget negative");
    }

    [TestCaseSource(nameof(InvalidOptions))]
    public void Create_InvalidOption_ThrowsNamingTheOption(Action<PresenceOptions> breakIt, string expected)
    {
        var options = new PresenceOptions { ServerName = ServerName.Parse("example.org") };
        breakIt(options);

        var error = Assert.Throws<ArgumentException>(() => PresenceEngine.Create(options, new InMemoryMembershipView()));

        Assert.That(error!.Message, Does.Contain(expected));
    }

    [Test]
    public void Create_SeveralInvalidOptions_NamesEachOne()
    {
        var options = new PresenceOptions { MaxDevicesPerUser = 0, IdleTimeout = TimeSpan.FromSeconds(1) };

        var error = Assert.Throws<ArgumentException>(() => PresenceEngine.Create(options, new InMemoryMembershipView()));

        Assert.That(error!.Message, Does.Contain("ServerName").And.Contain("MaxDevicesPerUser").And.Contain("IdleTimeout"));
    }

    [Test]
    public void Defaults_FollowTheReferenceBehaviour()
    {
        var options = new PresenceOptions();

        Assert.Multiple(() =>
        {
            Assert.That(options.IdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(5)));
            Assert.That(options.SyncTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(options.BusyTimeout, Is.EqualTo(TimeSpan.FromHours(1)));
            Assert.That(options.LastActiveGranularity, Is.EqualTo(TimeSpan.FromSeconds(60)));
            Assert.That(options.EnableBusy, Is.False);
        });
    }

    [Test]
    public void Create_CopiesFederationOptionsToo()
    {
        var options = new PresenceOptions { ServerName = ServerName.Parse("example.org") };
        var copy = options.Clone();

        options.Federation.BatchWindow = TimeSpan.FromSeconds(30);

        Assert.That(copy.Federation.BatchWindow, Is.EqualTo(PresenceFederationOptions.DefaultBatchWindow));
        Assert.That(copy.Federation, Is.Not.SameAs(options.Federation));
    }

    [Test]
    public void Create_CopiesExcludedRooms()
    {
        var options = new PresenceOptions { ServerName = ServerName.Parse("example.org") };
        options.ExcludedRooms.Add("!huge:example.org");
        var copy = options.Clone();

        options.ExcludedRooms.Add("!later:example.org");

        Assert.That(copy.ExcludedRooms, Is.EquivalentTo(new[] { "!huge:example.org" }));
    }

    [Test]
    public async Task Create_CopiesOptions_LaterChangesHaveNoEffect()
    {
        var options = new PresenceOptions { ServerName = ServerName.Parse("example.org") };
        var clock = new FakeTimeProvider(EngineHarness.Start);
        await using var engine = PresenceEngine.Create(options, new InMemoryMembershipView(), timeProvider: clock);
        await engine.StartAsync();
        options.SyncTimeout = TimeSpan.FromHours(1);
        var alice = UserId.Parse("@alice:example.org");

        engine.Heartbeat(alice, "D1");
        clock.Advance(TimeSpan.FromSeconds(30));

        Assert.That((await engine.GetPresenceAsync(alice, alice)).Presence.State, Is.EqualTo(PresenceState.Offline));
    }
}

using CsCheck;
using Presence.Core.Tests.Core;

namespace Presence.Core.Tests.Interest;

/// <summary>
/// Model-based tests of "may see" through the engine: random joins and leaves (one room excluded), visibilities,
/// presence-list requests, answers and removals, presence inputs, time, re-opened feeds and restarts, every step checked
/// against DESIGN's rule by <see cref="MaySeeDriver"/>. A failure is shrunk by CsCheck (its seed reproduces it:
/// <c>CsCheck_Seed</c>) and then cut down to a sequence in which every step matters.
/// </summary>
[CancelAfter(60_000)]
public sealed class MaySeeModelTests
{
    private const int Iterations = 2_000;

    /// <summary>Every ordered pair read after every step (the engine's room cache then knows every user's rooms).</summary>
    [Test]
    public Task GetPresenceAndFeed_RandomRoomsVisibilityListsAndTime_MatchTheRule()
        => CheckAsync(MaySeeScenario.Generate(), new MaySeeRules());

    /// <summary>Pairs read only now and then: joins, leaves and deliveries also meet a room cache that knows little.</summary>
    [Test]
    public Task GetPresenceAndFeed_ReadsOnlyNowAndThen_MatchTheRule()
        => CheckAsync(MaySeeScenario.Generate(readSteps: true), new MaySeeRules(ReadEveryPairAfterEveryStep: false));

    /// <summary>
    /// Idle users leave memory (ten minutes) and are read back from the store when needed. Fails now and then, depending
    /// on thread timing: <see cref="EvictionWhileSavingTests"/> has the case made deterministic.
    /// </summary>
    [Test]
    public Task GetPresenceAndFeed_IdleUsersLeaveMemory_MatchTheRule()
        => CheckAsync(MaySeeScenario.Generate(), new MaySeeRules(Eviction: true));

    /// <summary>
    /// A user who becomes visible by a join or an allowed request arrives on the feed with their presence; one who widens
    /// their visibility does not (see <see cref="SetVisibility_WidenedAgainAfterARetraction_FeedReceivesTheCurrentPresence"/>).
    /// </summary>
    [Test]
    public Task Feed_UserWideningTheirVisibility_ArrivesOnFeedsThatNowMaySeeThem()
        => CheckAsync(MaySeeScenario.Generate(), new MaySeeRules(WideningAnnouncesPresence: true));

    /// <summary>
    /// The minimal counterexample of <see cref="Feed_UserWideningTheirVisibility_ArrivesOnFeedsThatNowMaySeeThem"/>, with a
    /// status so that the difference shows: Bob, in Alice's room, goes Nobody (Alice's feed gets "unknown") and back to
    /// RoomMembers; reads show him online with "lunch" again, Alice's feed gets nothing and keeps showing him unknown.
    /// </summary>
    [Test]
    public async Task SetVisibility_WidenedAgainAfterARetraction_FeedReceivesTheCurrentPresence()
    {
        await using var h = await EngineHarness.StartAsync(o => o.ClientBatchWindow = TimeSpan.Zero);
        var (alice, bob) = (EngineHarness.User("alice"), EngineHarness.User("bob"));
        await h.ShareRoomAsync("!r:example.org", alice, bob);
        h.Engine.SetPresence(bob, "D1", PresenceState.Online, "lunch");
        await using var feed = await h.Engine.SubscribeAsync(alice);
        feed.TryRead(out _);
        h.Engine.SetVisibility(bob, PresenceVisibility.Nobody);
        feed.TryRead(out var retraction);

        h.Engine.SetVisibility(bob, PresenceVisibility.RoomMembers);
        string? onFeed = feed.TryRead(out var batch) ? batch.SingleOrDefault(s => s.User == bob)?.StatusMessage : null;
        var read = await h.Engine.GetPresenceAsync(alice, bob);

        Assert.Multiple(() =>
        {
            Assert.That(retraction.Single().IsUnknown, Is.True, "narrowing retracts");
            Assert.That(read.Presence.StatusMessage, Is.EqualTo("lunch"), "a read after widening");
            Assert.That(onFeed, Is.EqualTo("lunch"), "the feed after widening");
        });
    }

    /// <summary>
    /// Samples <paramref name="scenarios"/> against the engine. On a failure CsCheck reports its seed and shrunk
    /// sequence; the shortest failing sequence seen is then cut down, one step at a time, until every step matters.
    /// </summary>
    private static async Task CheckAsync(Gen<MaySeeScenario> scenarios, MaySeeRules rules)
    {
        var coverage = new MaySeeCoverage();
        var shortest = new ShortestFailure<MaySeeScenario>(static s => s.Ops.Length);
        try
        {
            await scenarios.SampleAsync(
                scenario => shortest.RunAsync(scenario, s => MaySeeDriver.RunAsync(s, rules, coverage)),
                iter: Iterations,
                print: static s => s.ToString());
        }
        catch (CsCheckException e) when (shortest.Scenario is { } failing)
        {
            var minimal = await StepRemoval.MinimizeAsync(failing, static s => s.Ops, static (s, ops) => s with { Ops = ops }, async s => await MaySeeDriver.FailureOfAsync(s, rules) is not null);
            var again = await MaySeeDriver.FailureOfAsync(minimal, rules) ?? "(this run passed: the failure depends on timing)";
            Assert.Fail($"{e.Message}\n{e.InnerException?.Message}\n\nWith every step needed:\n{minimal}\n{again}");
        }

        TestContext.Out.WriteLine(coverage);
    }
}

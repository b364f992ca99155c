using CsCheck;
using Presence.Internal;
using static Presence.Core.Tests.Core.UserTableScenario;

namespace Presence.Core.Tests.Core;

/// <summary>
/// Model-based tests of <see cref="UserTable"/>: random input sequences over three users with up to three devices
/// each, time steps that land on the rules' edges, every step checked against <see cref="PresenceModel"/> by
/// <see cref="UserTableDriver"/>. A failure is shrunk by CsCheck (its seed reproduces it: <c>CsCheck_Seed</c>) and then
/// cut down to a sequence in which every step matters.
/// </summary>
public sealed class UserTableModelTests
{
    private const int Iterations = 5_000;

    /// <summary>
    /// DESIGN ("Presence of one user"): a sync's <c>set_presence</c> never replaces busy. The model follows it; the table
    /// let it until these properties found it (<see cref="Heartbeat_SetPresenceOnBusyDevice_StaysBusy"/> keeps the case).
    /// </summary>
    private const bool SyncSetPresenceReplacesBusy = false;

    [Test]
    public void UserTable_RandomInputsWithTimerAtEveryDeadline_MatchesModel()
        => Check(Generate(lateTimer: false));

    /// <summary>
    /// The timer may run late: an input or a read can arrive after a deadline passed and before the timer fires.
    /// An input then drops what timed out first (never reviving it), and a read applies what is due.
    /// </summary>
    [Test]
    public void UserTable_InputsAndReadsBeforeALateTimer_MatchModel()
        => Check(Generate(lateTimer: true));

    /// <summary>A device cap of 1 or 2 with three device IDs: the least recently seen device makes room.</summary>
    [Test]
    public void UserTable_DeviceCapReached_MatchesModel()
        => Check(Generate(lateTimer: true, maxDevices: Gen.Int[1, 2]));

    [Test]
    public void Heartbeat_SetPresenceOnBusyDevice_StaysBusy()
    {
        // The minimal counterexample, with the model following DESIGN ("a sync's set_presence never replaces busy"):
        //   0: SetPresence(u0, D0, Busy, no status)
        //   1: Heartbeat(u0, D0, set_presence: Online)
        // DESIGN: still busy. The table said online (currently active) before the fix. Any set_presence did it, on the same
        // device or on a new one that would start busy (e.g. Heartbeat(u0, D0, set_presence: Busy) then set_presence: Unavailable).
        var scenario = new UserTableScenario(PresenceOptions.DefaultMaxDevicesPerUser, [
            new SetPresence(0, "D0", PresenceState.Busy, null),
            new Heartbeat(0, "D0", PresenceState.Online),
        ]);

        Assert.That(UserTableDriver.FailureOf(scenario, syncSetPresenceReplacesBusy: false), Is.Null);
    }

    /// <summary>
    /// Samples <paramref name="scenarios"/> against the table. On a failure CsCheck reports its seed and shrunk
    /// sequence; the shortest failing sequence seen is then cut down, one step at a time, until every step matters.
    /// </summary>
    private static void Check(Gen<UserTableScenario> scenarios)
    {
        var shortest = new ShortestFailure<UserTableScenario>(static s => s.Ops.Length);
        try
        {
            scenarios.Sample(
                scenario => shortest.Run(scenario, static s => UserTableDriver.Run(s, SyncSetPresenceReplacesBusy)),
                iter: Iterations,
                print: static s => s.ToString());
        }
        catch (CsCheckException e) when (shortest.Scenario is { } failing)
        {
            var minimal = StepRemoval.Minimize(failing, static s => s.Ops, static (s, ops) => s with { Ops = ops }, static s => UserTableDriver.FailureOf(s, SyncSetPresenceReplacesBusy) is not null);
            Assert.Fail($"{e.Message}\n\nWith every step needed:\n{minimal}\n{UserTableDriver.FailureOf(minimal, SyncSetPresenceReplacesBusy)}");
        }
    }
}

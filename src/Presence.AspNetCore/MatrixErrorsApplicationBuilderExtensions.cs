using Microsoft.AspNetCore.Http;
using Presence;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Turns refusals from the presence engine in the host's own endpoints into Matrix error responses.</summary>
public static class MatrixErrorsApplicationBuilderExtensions
{
    /// <summary>
    /// Adds middleware that answers a <see cref="PresenceException"/> thrown by a later endpoint (the host's <c>/sync</c>
    /// calling <see cref="MatrixPresenceSync"/>, for example) with its Matrix error: the status and
    /// <c>{"errcode", "error"}</c> of <see cref="MatrixResults.FromException"/>. Other exceptions pass through untouched.
    /// </summary>
    /// <param name="app">The app.</param>
    /// <returns>The app.</returns>
    public static IApplicationBuilder UseMatrixErrors(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(static async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (PresenceException ex) when (!context.Response.HasStarted)
            {
                context.Response.Clear();
                await MatrixResults.FromException(ex).ExecuteAsync(context).ConfigureAwait(false);
            }
        });
    }
}

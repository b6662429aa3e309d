"""Bootstrap-t pieces of the wild cluster bootstrap for few clusters (tens to thousands),
with the signs of the most influential clusters enumerated inside each draw.

Each draw's cluster sums ``[w_0, .., m_0, ..] = v'C`` (see :func:`policylab.did.inference.wild._t_parts`)
are linear in the weights ``v``, with ``C`` the clusters' rows ``[s_0, .., a_0 h, ..]``. With
``C = U S V'`` (thin SVD of the column-equilibrated rows, rank ``r``), ``z = v'US`` carries
them all: the numerators are ``N_j = z'n_j`` and every quadratic piece of the CRV1 variance
is ``sum_g v_g^2 a_j,g a_l,g + z'K_jl z`` with fixed ``r x r`` matrices ``K_jl``. A draw then
costs ``G r + r^2`` in large matrix products.

Sign enumeration (conditional Monte Carlo). With few treated clusters the tail of ``|t*|``
is decided mostly by the weights of a handful of clusters (the consortia). For the ``m``
clusters with the largest scores, each draw is evaluated at all ``2**m`` sign patterns of
their weights (magnitudes and all other weights as drawn). Webb and Rademacher weights are
symmetric, so the ``2**m`` weight vectors are equally likely draws of the same distribution:
the share of them with ``|t*| >= |t|`` is the conditional expectation of the draw's
indicator, and its mean over draws estimates the same bootstrap p-value with a much smaller
Monte Carlo error (Rao-Blackwell; 15-500x smaller variance at the bounds of the example's
headlines, ``benchmarks/SEED_STABILITY.md``). A pattern costs ``m^2`` per quadratic piece:
``z = z_R + sum_{g in S} s_g |v_g| y_g`` gives
``z'Kz = z_R'K z_R + 2 sum_g s_g |v_g| y_g'K z_R + sum_gh s_g s_h |v_g||v_h| y_g'K y_h``.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

#: clusters x columns of the cluster rows below which the dense path is used
DENSE_CELLS = 1 << 22
_BLOCK_ROWS = 1 << 18  # draws x sign patterns per block
_BLOCK_CELLS = 1 << 22  # draws x clusters weights per block


def influence_order(a: list[np.ndarray]) -> np.ndarray:
    """Clusters by decreasing share in the scores of the bootstrap numerator (the sum over
    the residual vectors of ``a_j,g^2 / sum_g a_j,g^2``); ties by cluster order."""
    share = np.zeros(a[0].size)
    for aj in a:
        tot = float(aj @ aj)
        if tot > 0:
            share += aj * aj / tot
    return np.argsort(-share, kind="stable")


def sign_patterns(m: int) -> np.ndarray:
    """All ``2**m`` sign vectors, ``2**m x m`` (first pattern all +1)."""
    return np.array(list(itertools.product((1.0, -1.0), repeat=m))).reshape(2**m, m)


class DenseDraws:
    """The draw-independent set-up of the dense path for one problem (SVD, ``K_jl``, the
    enumerated clusters), built once; :meth:`pieces` computes any range of draws.

    ``scores``, ``lev``, ``a``, ``a_inv``, ``q``, ``pairs``, ``prods`` as in
    :func:`policylab.did.inference.wild._t_parts`; ``signs``: the number of most influential clusters
    whose signs are enumerated in each draw (0: none, one row per draw); ``n_clusters`` the
    number of clusters (at most that many are enumerated).
    """

    def __init__(
        self,
        scores: list[sp.csr_matrix],
        lev: sp.csr_matrix,
        a: list[np.ndarray],
        a_inv: np.ndarray,
        q: np.ndarray,
        pairs: list[tuple[int, int]],
        prods: np.ndarray,
        signs: int,
        n_clusters: int,
    ) -> None:
        nres, k = len(scores), a_inv.shape[0]
        cols = [*scores, *(sp.diags(aj) @ lev for aj in a)]
        c = np.asarray(sp.hstack(cols).todense())
        # columns of very different scales (EUR scores beside leverages): equilibrate, so
        # that the rank cut only drops what rounding cannot tell from zero
        norms = np.sqrt(np.einsum("ij,ij->j", c, c))
        used = np.flatnonzero(norms > 0)
        u, sv, vt_used = np.linalg.svd(c[:, used] / norms[used], full_matrices=False)
        keep = sv > (sv[0] if sv.size else 0.0) * max(c.shape) * np.finfo(float).eps
        vt = np.zeros((int(keep.sum()), c.shape[1]))
        vt[:, used] = vt_used[keep] * norms[used]
        us = u[:, keep] * sv[keep]
        w = [vt[:, j * k : (j + 1) * k] for j in range(nres)]  # r x k: z -> w_j
        mj = [vt[:, (nres + j) * k : (nres + j + 1) * k] @ a_inv for j in range(nres)]
        pa_gram = a_inv @ np.asarray((lev.T @ lev).todense()) @ a_inv
        self.nvec = np.column_stack([wj @ q for wj in w])  # r x J
        self.kmat = []
        for j, l in pairs:
            kjl = w[j] @ pa_gram @ w[l].T - w[l] @ mj[j].T - w[j] @ mj[l].T
            self.kmat.append(0.5 * (kjl + kjl.T))
        self.nres, self.n_pairs, self.prods = nres, len(pairs), prods

        m = min(int(signs), n_clusters)
        self.top = top = influence_order(a)[:m]
        y = us[top]  # m x r
        self.pats = sign_patterns(m)
        self.patterns = self.pats.shape[0]
        self.ny = y @ self.nvec  # m x J
        self.ky = [y @ kjl for kjl in self.kmat]  # m x r
        c2 = [kyi @ y.T for kyi in self.ky]  # m x m
        # s'(C2 o |v||v|')s = sum over pairs g <= h of (s_g s_h) (|v_g||v_h| C2_gh, twice
        # off the diagonal): one product with the patterns' sign products
        self.gi, self.hi = np.triu_indices(m)
        self.pair_signs = (self.pats[:, self.gi] * self.pats[:, self.hi]).T  # pairs x patterns
        self.pair_c2 = [np.where(self.gi == self.hi, 1.0, 2.0) * c2i[self.gi, self.hi]
                        for c2i in c2]
        self.us_rest = us.copy()
        self.us_rest[top] = 0.0  # z_R: the draw without the enumerated clusters

    def pieces(self, draws, start: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(numerators, quadratic pieces)``: per residual vector ``j`` the numerator and
        per pair the squared-score sum, one entry per draw (from ``start`` on) and sign
        pattern (draw-major: the ``patterns`` rows of a draw are consecutive). ``draws`` is
        a :class:`policylab.did.inference.wild._Draws`."""
        n_pat, nres = self.patterns, self.nres
        n_rows = (draws.n - start) * n_pat
        num = np.zeros((n_rows, nres))
        quad = np.zeros((n_rows, self.n_pairs))
        table, top, pts = draws.table, self.top, self.pats.T
        step = max(1, min(4096, _BLOCK_ROWS // n_pat, _BLOCK_CELLS // max(1, draws.g)))
        for lo, codes in draws.blocks(step):
            if lo + codes.shape[0] <= start:
                continue
            if lo < start:
                codes, lo = codes[start - lo :], start
            nb = codes.shape[0]
            rows = slice((lo - start) * n_pat, (lo - start + nb) * n_pat)
            v = table[codes]
            z = v @ self.us_rest
            base_n = z @ self.nvec  # nb x J
            base_q = (v * v) @ self.prods  # nb x pairs (sign-free)
            for i, kjl in enumerate(self.kmat):
                base_q[:, i] += np.einsum("ij,ij->i", z @ kjl, z)
            if top.size == 0:
                num[rows], quad[rows] = base_n, base_q
                continue
            av = np.abs(v[:, top])  # nb x m
            for j in range(nres):
                num[rows, j] = (base_n[:, j, None] + (av * self.ny[:, j]) @ pts).ravel()
            av2 = av[:, self.gi] * av[:, self.hi]  # nb x pairs of enumerated clusters
            for i in range(self.n_pairs):
                cross = (av * (z @ self.ky[i].T)) @ pts  # s.(|v| o y K z_R), nb x patterns
                own = (av2 * self.pair_c2[i]) @ self.pair_signs
                quad[rows, i] = (base_q[:, i, None] + 2.0 * cross + own).ravel()
        return [num[:, j] for j in range(nres)], [quad[:, i] for i in range(self.n_pairs)]

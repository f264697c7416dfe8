import { describe, expect, it } from 'vitest';
import { findRoute, matchPath, needsOwnOrigin, type Route } from '../../../server/http/router.ts';

const route = (method: Route['method'], path: string, anyOrigin?: boolean): Route => ({ method, path, ...(anyOrigin ? { anyOrigin } : {}), handle: () => {} });

describe('findRoute', () => {
	const health = route('*', '/api/health', true);
	const reset = route('POST', '/api/lab/reset');
	const lab = route('*', '/api/lab', true);
	const instructor = route('*', '/api/instructor/*');
	const routes = [health, lab, reset, instructor];

	it('matches a path exactly, for any method when the route says `*`', () => {
		expect(findRoute(routes, 'GET', '/api/health')).toBe(health);
		expect(findRoute(routes, 'DELETE', '/api/health')).toBe(health);
		expect(findRoute(routes, 'GET', '/api/lab')).toBe(lab);
		expect(findRoute(routes, 'GET', '/api/health/')).toBeUndefined();
		expect(findRoute(routes, 'GET', '/api/healthz')).toBeUndefined();
	});

	it('answers only its own method when the route names one', () => {
		expect(findRoute(routes, 'POST', '/api/lab/reset')).toBe(reset);
		expect(findRoute(routes, 'GET', '/api/lab/reset')).toBeUndefined();
		expect(findRoute(routes, undefined, '/api/lab/reset')).toBeUndefined();
	});

	it('matches every path under a folder for a path ending in /*, but not the folder itself', () => {
		expect(findRoute(routes, 'GET', '/api/instructor/students')).toBe(instructor);
		expect(findRoute(routes, 'DELETE', '/api/instructor/students/s1/terminals')).toBe(instructor);
		expect(findRoute(routes, 'GET', '/api/instructor/')).toBe(instructor);
		expect(findRoute(routes, 'GET', '/api/instructor')).toBeUndefined();
		expect(findRoute(routes, 'GET', '/api/instructors')).toBeUndefined();
	});

	it('takes the first route that matches', () => {
		const first = route('*', '/api/join');
		expect(findRoute([first, route('POST', '/api/join')], 'POST', '/api/join')).toBe(first);
	});
});

describe('needsOwnOrigin', () => {
	it('asks it of requests that change something under /api/', () => {
		for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', undefined]) {
			expect(needsOwnOrigin(route('*', '/api/join'), method, '/api/join'), String(method)).toBe(true);
		}
		expect(needsOwnOrigin(undefined, 'POST', '/api/no-such-path')).toBe(true);
	});

	it('never asks it of reads', () => {
		expect(needsOwnOrigin(route('*', '/api/join'), 'GET', '/api/join')).toBe(false);
		expect(needsOwnOrigin(route('*', '/api/join'), 'HEAD', '/api/join')).toBe(false);
		expect(needsOwnOrigin(undefined, 'GET', '/api/no-such-path')).toBe(false);
	});

	it('does not ask it of a route that answers any origin, nor outside /api/', () => {
		expect(needsOwnOrigin(route('*', '/api/health', true), 'POST', '/api/health')).toBe(false);
		expect(needsOwnOrigin(route('*', '/metrics'), 'POST', '/metrics')).toBe(false);
		expect(needsOwnOrigin(undefined, 'POST', '/chapters/pause/')).toBe(false);
	});
});

describe('matchPath', () => {
	it('matches literal text exactly, dots included', () => {
		expect(matchPath('students', 'students')).toEqual({});
		expect(matchPath('students', 'students/')).toBeNull();
		expect(matchPath('transcript.json', 'transcriptxjson')).toBeNull();
	});

	it('names the parts of a path, each within one segment', () => {
		expect(matchPath('students/:student/transcript.:format', 'students/s-1a2b/transcript.csv')).toEqual({ student: 's-1a2b', format: 'csv' });
		expect(matchPath('students/:student', 'students/s-1a2b/terminals')).toBeNull();
		expect(matchPath('students/:student/terminals', 'students//terminals')).toBeNull();
	});
});
